import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { and, asc, eq, sql } from 'drizzle-orm';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  errors,
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
import { publishedKeys, signingKey, type KeyTimes } from './key-phases.js';
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

/** The key to sign with; node:crypto's form: access tokens are signed synchronously (see es256-signer.ts). */
export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
}

/** Our keys as they stand now (by the clock): a rotation moves them along without a restart. */
export interface SigningKeys {
  signing(): SigningKey;
  /** Public keys only, served at /.well-known/jwks.json. */
  jwks(): JSONWebKeySet;
  /**
   * Selects a verification key by the token's kid among our published keys, never one the token
   * names. A kid we do not know yet (another instance already signing with a key this one has not
   * read) makes it read the keys table first, at most once a second.
   */
  readonly verificationKeys: JWTVerifyGetKey;
  /** Reads the keys table again (every 30 s, and on an unknown kid). */
  reload(): Promise<void>;
}

/** A key set that never changes (JWT_PRIVATE_KEY). */
function fixedKeys(key: SigningKey, jwks: JSONWebKeySet): SigningKeys {
  const verificationKeys = createLocalJWKSet(jwks);
  return { signing: () => key, jwks: () => jwks, verificationKeys, reload: async () => {} };
}

function publicPart(jwk: JWK, kid: string): JWK {
  const { kty, crv, x, y } = jwk;
  return { kty, crv, x, y, kid, alg: SIGNING_ALGORITHM, use: 'sig' };
}

async function privateKeyOf(jwk: JWK): Promise<KeyObject> {
  // jose validates the JWK as an ES256 key (curve, coordinates) before node:crypto takes it.
  await importJWK({ ...jwk, alg: SIGNING_ALGORITHM }, SIGNING_ALGORITHM);
  return createPrivateKey({ key: { ...jwk } as JsonWebKey, format: 'jwk' });
}

/** JWT_VERIFICATION_KEYS, each checked to be a point on P-256 and named (its kid, or its thumbprint). */
async function checkedExtraKeys(extraKeys: readonly PublicJwk[]): Promise<JWK[]> {
  const checked: JWK[] = [];
  for (const extra of extraKeys) {
    const jwk = extra as JWK;
    try {
      await importJWK({ ...jwk, alg: SIGNING_ALGORITHM }, SIGNING_ALGORITHM);
    } catch {
      throw new InvalidVerificationKey('a key is not a point on P-256');
    }
    checked.push(publicPart(jwk, extra.kid ?? (await calculateJwkThumbprint(jwk))));
  }
  return checked;
}

/**
 * Our keys and JWT_VERIFICATION_KEYS, one entry per kid: verification picks a key by the token's kid,
 * so a kid naming two different keys would make the answer depend on their order. The same key
 * given twice is published once.
 */
function withExtraKeys(ours: readonly JWK[], extraKeys: readonly JWK[]): JWK[] {
  const keys = [...ours];
  for (const extra of extraKeys) {
    const same = keys.find((key) => key.kid === extra.kid);
    if (same && (same.x !== extra.x || same.y !== extra.y)) {
      throw new InvalidVerificationKey(`kid "${extra.kid}" already names another key`);
    }
    if (!same) keys.push(extra);
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

/** A new key as a row of the keys table: its private half sealed when there is a SecretBox. */
export async function newStoredKey(box: SecretBox | undefined, createdAt: Date) {
  const { privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateJwk: storedForm(jwk, kid, box), publicJwk: publicPart(jwk, kid), createdAt };
}

export interface KeyOptions {
  readonly privateJwk: PrivateJwk | undefined;
  readonly verificationJwks: readonly PublicJwk[];
  readonly clock: Clock;
  readonly secretBox?: SecretBox | undefined;
}

/**
 * JWT_PRIVATE_KEY when given; otherwise the keys stored in the database, the first generated on first
 * start, so that restarts (and other instances on the same database) keep accepting issued tokens, and
 * later ones by rotate-signing-key (key-phases.ts says which signs and which are published when).
 * Either way, the public keys of JWT_VERIFICATION_KEYS are accepted and published too. With a SecretBox
 * the stored keys are sealed, and one stored in plain text before is sealed in place at start-up.
 */
export async function loadSigningKeys(db: Database, options: KeyOptions): Promise<SigningKeys> {
  if (options.privateJwk) {
    const jwk = options.privateJwk as JWK;
    const kid = options.privateJwk.kid ?? (await calculateJwkThumbprint(jwk));
    const jwks = { keys: withExtraKeys([publicPart(jwk, kid)], await checkedExtraKeys(options.verificationJwks)) };
    return fixedKeys({ kid, privateKey: await privateKeyOf(jwk) }, jwks);
  }
  const stored = await ensureStoredKey(db, options);
  if (options.secretBox) await sealPlainKeys(db, stored, options.secretBox);
  // Checked now: a KEY_ENCRYPTION_KEY that does not open our keys, or a bad extra key, stops the start.
  const keys = new StoredKeys(db, options, await checkedExtraKeys(options.verificationJwks));
  await keys.reload();
  return keys;
}

/** The keys table, read; with a first key made if it was empty. */
export async function ensureStoredKey(db: Database, options: Pick<KeyOptions, 'clock' | 'secretBox'>) {
  const stored = await readStoredKeys(db);
  if (stored.length > 0) return stored;
  // Two instances starting at once may both generate; everyone then signs with the oldest.
  await db.insert(signingKeys).values(await newStoredKey(options.secretBox, options.clock())).onConflictDoNothing();
  return readStoredKeys(db);
}

const readStoredKeys = (db: Database) => db.select().from(signingKeys).orderBy(asc(signingKeys.createdAt), asc(signingKeys.kid));

interface OpenedKey extends KeyTimes {
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
}

/** How often at most a token with an unknown kid makes an instance read the keys table. */
const UNKNOWN_KID_RELOAD_MS = 1_000;

/** The stored keys as last read; which one signs, and which are published, by the clock at each call. */
class StoredKeys implements SigningKeys {
  #keys: readonly OpenedKey[] = [];
  #view: { kids: string; jwks: JSONWebKeySet; verify: JWTVerifyGetKey } | undefined;
  #reloading: Promise<void> | undefined;
  #lastUnknownKidReload = 0;

  constructor(
    private readonly db: Database,
    private readonly options: KeyOptions,
    private readonly extraKeys: readonly JWK[],
  ) {}

  signing(): SigningKey {
    const key = signingKey(this.#keys, this.options.clock());
    if (!key) throw new Error('no signing key is published');
    return key;
  }

  jwks(): JSONWebKeySet {
    return this.#current().jwks;
  }

  readonly verificationKeys: JWTVerifyGetKey = async (header, token) => {
    try {
      return await this.#current().verify(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || Date.now() - this.#lastUnknownKidReload < UNKNOWN_KID_RELOAD_MS) throw error;
      this.#lastUnknownKidReload = Date.now();
      // Unreadable now (an outage): the token is judged by the keys already known.
      await this.reload().catch(() => {});
      return this.#current().verify(header, token);
    }
  };

  reload(): Promise<void> {
    this.#reloading ??= this.#read().finally(() => (this.#reloading = undefined));
    return this.#reloading;
  }

  async #read(): Promise<void> {
    const box = this.options.secretBox;
    const rows = await readStoredKeys(this.db);
    const known = new Map(this.#keys.map((key) => [key.kid, key]));
    const opened: OpenedKey[] = [];
    for (const row of rows) {
      const privateKey = known.get(row.kid)?.privateKey ?? (await privateKeyOf(openPrivateKey(row.privateJwk, row.kid, box)));
      opened.push({ kid: row.kid, createdAt: row.createdAt, signsFrom: row.signsFrom, retiresAt: row.retiresAt, privateKey, publicJwk: row.publicJwk as JWK });
    }
    // A kid of JWT_VERIFICATION_KEYS naming one of ours otherwise is refused here, at start-up.
    withExtraKeys(opened.map((key) => key.publicJwk), this.extraKeys);
    this.#keys = opened;
    this.#view = undefined;
  }

  /** The published set at the clock's now, remade only when it changes. */
  #current() {
    const published = publishedKeys(this.#keys, this.options.clock());
    const kids = published.map((key) => key.kid).join(' ');
    if (this.#view?.kids !== kids) {
      const jwks = { keys: withExtraKeys(published.map((key) => key.publicJwk), this.extraKeys) };
      this.#view = { kids, jwks, verify: createLocalJWKSet(jwks) };
    }
    return this.#view;
  }
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
