import { exportJWK, generateKeyPair } from 'jose';
import { AccessTokens } from '../../src/auth/access-tokens.js';
import { loadSigningKeys } from '../../src/auth/keys.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { issueRefreshToken } from '../../src/auth/refresh-tokens.js';
import { systemClock } from '../../src/clock.js';
import { loadConfig, type PrivateJwk } from '../../src/config.js';
import type { Database } from '../../src/db/client.js';
import { sessions, users } from '../../src/db/schema.js';

/**
 * Users and sessions are written straight into the database, and their access tokens signed with
 * the key the servers are given (JWT_PRIVATE_KEY): signing up 10,000 users through the API would
 * spend minutes hashing passwords before anything is measured.
 */

export const BENCH_PASSWORD = 'bench password, correct horse';
/** Longer than any run: seeded tokens must not expire mid-run. */
export const ACCESS_TOKEN_TTL = 3600;

export interface Signer {
  /** Environment for every server: the same key, so seeded tokens verify everywhere. */
  readonly serverEnv: Record<string, string>;
  sign(subject: { userId: string; sessionId: string }): Promise<string>;
}

export async function createSigner(): Promise<Signer> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'bench' } as PrivateJwk;
  const serverEnv = {
    JWT_PRIVATE_KEY: JSON.stringify(jwk),
    ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL),
    NODE_ENV: 'production',
    MAIL: 'disabled',
  };
  const config = loadConfig(serverEnv);
  // With a private key given, loadSigningKeys never touches the database.
  const keys = await loadSigningKeys(undefined as unknown as Database, {
    privateJwk: config.jwtPrivateKey,
    verificationJwks: config.jwtVerificationKeys,
    clock: systemClock,
  });
  const tokens = new AccessTokens({
    keys,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    ttl: config.accessTokenTtl,
    clock: systemClock,
  });
  const far = new Date(Date.now() + 86_400_000);
  return {
    serverEnv,
    sign: async (subject) => (await tokens.issue({ ...subject, notAfter: far, authTime: new Date(), amr: ['pwd'] })).token,
  };
}

export interface SeededSession {
  readonly userId: string;
  readonly email: string;
  readonly sessionId: string;
}

let passwordHash: Promise<string> | undefined;

/** `count` users with one live session each, all with BENCH_PASSWORD. */
export async function seedUsersWithSessions(db: Database, count: number, label: string): Promise<SeededSession[]> {
  passwordHash ??= hashPassword(BENCH_PASSWORD);
  const hash = await passwordHash;
  const now = new Date();
  const seeded: SeededSession[] = Array.from({ length: count }, (_, i) => ({
    userId: crypto.randomUUID(),
    email: `${label}-${i}-${crypto.randomUUID().slice(0, 8)}@bench.example`,
    sessionId: crypto.randomUUID(),
  }));
  const CHUNK = 1000;
  for (let start = 0; start < seeded.length; start += CHUNK) {
    const slice = seeded.slice(start, start + CHUNK);
    await db.insert(users).values(slice.map((s) => ({ id: s.userId, email: s.email, passwordHash: hash, createdAt: now })));
    await db.insert(sessions).values(slice.map((s) => sessionRow(s.userId, s.sessionId, now)));
  }
  return seeded;
}

/** More sessions for an existing user. */
export async function seedSessions(db: Database, userId: string, count: number): Promise<string[]> {
  const now = new Date();
  const ids = Array.from({ length: count }, () => crypto.randomUUID());
  for (let start = 0; start < ids.length; start += 1000) {
    await db.insert(sessions).values(ids.slice(start, start + 1000).map((id) => sessionRow(userId, id, now)));
  }
  return ids;
}

/** The first refresh token of each session's family. */
export async function seedRefreshTokens(db: Database, sessionIds: readonly string[]): Promise<string[]> {
  const now = new Date();
  const tokens: string[] = [];
  for (const sessionId of sessionIds) tokens.push(await issueRefreshToken(db, { sessionId, parentId: null, now }));
  return tokens;
}

function sessionRow(userId: string, id: string, now: Date) {
  return {
    id,
    userId,
    deviceName: 'bench',
    userAgent: 'tidepass-bench',
    ip: '127.0.0.1',
    createdAt: now,
    lastUsedAt: now,
    expiresAt: new Date(now.getTime() + 30 * 86_400_000),
  };
}
