import type { Executor } from '../db/client.js';
import { insertRefreshToken } from '../db/refresh-tokens.js';
import { randomToken, REFRESH_TOKEN_PATTERN, sha256Hex } from './crypto.js';

/** A new refresh token: the secret, handed out once, and its hash, the only form stored. */
export interface NewRefreshToken {
  readonly token: string;
  readonly hash: string;
}

export function newRefreshToken(): NewRefreshToken {
  const token = randomToken(32);
  return { token, hash: sha256Hex(token) };
}

/** A string that cannot be one of our tokens is refused before it costs a query. */
export function isWellFormedRefreshToken(token: string): boolean {
  return REFRESH_TOKEN_PATTERN.test(token);
}

/** Creates a token in the session's family; returns the only copy of the secret that will ever exist. */
export async function issueRefreshToken(
  db: Executor,
  input: { sessionId: string; parentId: string | null; now: Date },
): Promise<string> {
  const { token, hash } = newRefreshToken();
  await insertRefreshToken(db, { sessionId: input.sessionId, parentId: input.parentId, tokenHash: hash, createdAt: input.now });
  return token;
}
