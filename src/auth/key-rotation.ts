import { and, isNull, lte, ne } from 'drizzle-orm';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { signingKeys } from '../db/schema.js';
import { rotationTimes } from './key-phases.js';
import { ensureStoredKey, newStoredKey } from './keys.js';
import type { SecretBox } from './secret-box.js';

export interface RotationPolicy {
  /** The JWKS's Cache-Control max-age: the new key is published this long before it signs. */
  readonly jwksMaxAge: number;
  /** The old key verifies this long (plus a margin) after the new one signs: its last tokens expire. */
  readonly accessTokenTtl: number;
}

export interface Rotation {
  readonly kid: string;
  readonly publishedAt: Date;
  readonly signsFrom: Date;
  /** When the keys before it leave the JWKS. */
  readonly previousRetireAt: Date;
  /** Keys retired before now, deleted (their private halves with them). */
  readonly deleted: readonly string[];
}

/**
 * Publishes a new stored key at once, to sign from JWKS_MAX_AGE later; every key before it retires
 * ACCESS_TOKEN_TTL (and a margin) after that. Only times are written: each instance reads them
 * (key-phases.ts) and follows without a restart. A rotation during a rotation is safe: the newest
 * published key signs once its time comes, and each key keeps the earliest retirement it was given.
 */
export async function rotateSigningKey(
  db: Database,
  options: RotationPolicy & { readonly clock: Clock; readonly secretBox: SecretBox | undefined },
): Promise<Rotation> {
  // On a database no server has started on yet, the first key is made as on a first start.
  await ensureStoredKey(db, options);
  const now = options.clock();
  const { signsFrom, retiresAt } = rotationTimes(now, options);
  const key = await newStoredKey(options.secretBox, now);
  const deleted = await db.transaction(async (tx) => {
    await tx.insert(signingKeys).values({ ...key, signsFrom });
    await tx.update(signingKeys).set({ retiresAt }).where(and(isNull(signingKeys.retiresAt), ne(signingKeys.kid, key.kid)));
    const gone = await tx.delete(signingKeys).where(lte(signingKeys.retiresAt, now)).returning({ kid: signingKeys.kid });
    return gone.map((row) => row.kid);
  });
  return { kid: key.kid, publishedAt: now, signsFrom, previousRetireAt: retiresAt, deleted };
}
