import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { asc } from 'drizzle-orm';
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

/**
 * JWT_PRIVATE_KEY when given; otherwise the key stored in the database, generated on first start,
 * so that restarts (and other instances on the same database) keep accepting issued tokens. Either
 * way, the public keys of JWT_VERIFICATION_KEYS are accepted and published too.
 */
export async function loadSigningKeys(
  db: Database,
  options: { privateJwk: PrivateJwk | undefined; verificationJwks: readonly PublicJwk[]; clock: Clock },
): Promise<SigningKeys> {
  if (options.privateJwk) {
    const jwk = options.privateJwk as JWK;
    const kid = options.privateJwk.kid ?? (await calculateJwkThumbprint(jwk));
    return fromPrivateJwk(jwk, kid, [publicPart(jwk, kid)], options.verificationJwks);
  }

  let stored = await db.select().from(signingKeys).orderBy(asc(signingKeys.createdAt), asc(signingKeys.kid));
  if (stored.length === 0) {
    const { privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true });
    const jwk = await exportJWK(privateKey);
    const kid = await calculateJwkThumbprint(jwk);
    // Two instances starting at once may both generate; everyone then signs with the oldest.
    await db
      .insert(signingKeys)
      .values({ kid, privateJwk: jwk, publicJwk: publicPart(jwk, kid), createdAt: options.clock() })
      .onConflictDoNothing();
    stored = await db.select().from(signingKeys).orderBy(asc(signingKeys.createdAt), asc(signingKeys.kid));
  }
  const active = stored[0]!;
  return fromPrivateJwk(
    active.privateJwk as JWK,
    active.kid,
    stored.map((row) => row.publicJwk as JWK),
    options.verificationJwks,
  );
}
