import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { and, asc, eq, sql } from 'drizzle-orm';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { signingKeys } from '../db/schema.js';
import { SecretBox, SecretBoxError } from './secret-box.js';

export const SIGNING_ALGORITHM = 'ES256';

/** A public EC P-256 key as a JWK; other members are kept as given. */
export interface PublicJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly kid?: string | undefined;
  readonly [member: string]: unknown;
}

export interface PrivateJwk extends PublicJwk {
  readonly d: string;
}

/** A verification key that cannot be used; the message says why. */
export class InvalidVerificationKey extends Error {
  override readonly name = 'InvalidVerificationKey';
}

export interface SigningKeys {
  readonly kid: string;
  /** node:crypto's form: access tokens are signed synchronously (see es256-signer.ts). */
  readonly privateKey: KeyObject;
  /** Public keys only, served at /.well-known/jwks.json. */
  readonly jwks: JSONWebKeySet;
  /** Selects a verification key by the token's kid among our own keys, never one the token names. */
  readonly verificationKeys: JWTVerifyGetKey;
}

function publicPart(jwk: JWK, kid: string): JWK {
  const { kty, crv, x, y } = jwk;
  return { kty, crv, x, y, kid, alg: SIGNING_ALGORITHM, use: 'sig' };
}

async function fromPrivateJwk(jwk: JWK, kid: string, publicKeys: JWK[], extraKeys: readonly PublicJwk[]): Promise<SigningKeys> {
  // jose validates the JWK as an ES256 key (curve, coordinates) before node:crypto takes it.
  await importJWK({ ...jwk, alg: SIGNING_ALGORITHM }, SIGNING_ALGORITHM);
  const privateKey = createPrivateKey({ key: { ...jwk } as JsonWebKey, format: 'jwk' });
  const jwks = { keys: await withExtraKeys(publicKeys, extraKeys) };
  return { kid, privateKey, jwks, verificationKeys: createLocalJWKSet(jwks) };
}

/**
 * Our keys and JWT_VERIFICATION_KEYS, one entry per kid: verification picks a key by the token's kid,
 * so a kid naming two different keys would make the answer depend on their order. The same key
 * given twice is published once.
 */
async function withExtraKeys(ours: JWK[], extraKeys: readonly PublicJwk[]): Promise<JWK[]> {
  const keys = [...ours];
  for (const extra of extraKeys) {
    const jwk = extra as JWK;
    try {
      await importJWK({ ...jwk, alg: SIGNING_ALGORITHM }, SIGNING_ALGORITHM);
    } catch {
      throw new InvalidVerificationKey('a key is not a point on P-256');
    }
    const kid = extra.kid ?? (await calculateJwkThumbprint(jwk));
    const same = keys.find((key) => key.kid === kid);
    if (same && (same.x !== jwk.x || same.y !== jwk.y)) {
      throw new InvalidVerificationKey(`kid "${kid}" already names another key`);
    }
    if (!same) keys.push(publicPart(jwk, kid));
  }
  return keys;
}

/** The stored signing key cannot be opened: missing or wrong KEY_ENCRYPTION_KEY. */
export class SigningKeyLocked extends Error {
  override readonly name = 'SigningKeyLocked';
}

/** A stored private key: sealed by the SecretBox, or (from before encryption, or without a key) a JWK. */
type StoredPrivateKey = { readonly sealed: string } | JWK;

const sealContext = (kid: string) => `signing_keys.private_jwk:${kid}`;

function sealed(stored: unknown): string | undefined {
  const value = (stored as { sealed?: unknown } | null)?.sealed;
  return SecretBox.isSealed(value) ? value : undefined;
}

function openPrivateKey(stored: unknown, kid: string, box: SecretBox | undefined): JWK {
  const value = sealed(stored);
  if (value === undefined) return stored as JWK;
  if (!box) throw new SigningKeyLocked('must be set: the signing key stored in the database is encrypted');
  try {
    return JSON.parse(box.open(value, sealContext(kid))) as JWK;
  } catch (error) {
    if (error instanceof SecretBoxError) throw new SigningKeyLocked('does not open the signing key stored in the database');
    throw error;
  }
}

function storedForm(jwk: JWK, kid: string, box: SecretBox | undefined): StoredPrivateKey {
  return box ? { sealed: box.seal(JSON.stringify(jwk), sealContext(kid)) } : jwk;
}

/**
 * JWT_PRIVATE_KEY when given; otherwise the key stored in the database, generated on first start,
 * so that restarts (and other instances on the same database) keep accepting issued tokens. Either
 * way, the public keys of JWT_VERIFICATION_KEYS are accepted and published too. With a SecretBox the
 * stored key is sealed, and one stored in plain text before is sealed in place at start-up.
 */
export async function loadSigningKeys(
  db: Database,
  options: { privateJwk: PrivateJwk | undefined; verificationJwks: readonly PublicJwk[]; clock: Clock; secretBox?: SecretBox | undefined },
): Promise<SigningKeys> {
  if (options.privateJwk) {
    const jwk = options.privateJwk as JWK;
    const kid = options.privateJwk.kid ?? (await calculateJwkThumbprint(jwk));
    return fromPrivateJwk(jwk, kid, [publicPart(jwk, kid)], options.verificationJwks);
  }

  const box = options.secretBox;
  let stored = await db.select().from(signingKeys).orderBy(asc(signingKeys.createdAt), asc(signingKeys.kid));
  if (stored.length === 0) {
    const { privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true });
    const jwk = await exportJWK(privateKey);
    const kid = await calculateJwkThumbprint(jwk);
    // Two instances starting at once may both generate; everyone then signs with the oldest.
    await db
      .insert(signingKeys)
      .values({ kid, privateJwk: storedForm(jwk, kid, box), publicJwk: publicPart(jwk, kid), createdAt: options.clock() })
      .onConflictDoNothing();
    stored = await db.select().from(signingKeys).orderBy(asc(signingKeys.createdAt), asc(signingKeys.kid));
  }
  if (box) await sealPlainKeys(db, stored, box);
  const active = stored[0]!;
  return fromPrivateJwk(
    openPrivateKey(active.privateJwk, active.kid, box),
    active.kid,
    stored.map((row) => row.publicJwk as JWK),
    options.verificationJwks,
  );
}

/** Keys stored in plain text (before KEY_ENCRYPTION_KEY was set) sealed where they are. */
async function sealPlainKeys(db: Database, rows: readonly { kid: string; privateJwk: unknown }[], box: SecretBox): Promise<void> {
  for (const row of rows) {
    if (sealed(row.privateJwk) !== undefined) continue;
    // Only while it is still the plain key: another instance sealing it at the same time wins once.
    await db
      .update(signingKeys)
      .set({ privateJwk: storedForm(row.privateJwk as JWK, row.kid, box) })
      .where(and(eq(signingKeys.kid, row.kid), sql`${signingKeys.privateJwk} ->> 'd' is not null`));
  }
}
