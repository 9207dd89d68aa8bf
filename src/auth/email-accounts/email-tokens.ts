import type { EmailTokenPurpose } from '../../db/email-tokens.js';
import { insertEmailToken, spendEmailToken, type SpentEmailToken } from '../../db/email-tokens.js';
import type { Executor } from '../../db/client.js';
import { randomToken, REFRESH_TOKEN_PATTERN, sha256Hex } from '../crypto.js';

export type { EmailTokenPurpose, SpentEmailToken };

/** Seconds each purpose's token lives. */
export interface EmailTokenLifetimes {
  readonly verification: number;
  readonly passwordReset: number;
  readonly emailChange: number;
}

const lifetimeOf = (purpose: EmailTokenPurpose, ttl: EmailTokenLifetimes) =>
  ({ VERIFY_EMAIL: ttl.verification, RESET_PASSWORD: ttl.passwordReset, CHANGE_EMAIL: ttl.emailChange })[purpose];

/**
 * The tokens of links sent by mail: 256 random bits in base64url, only their SHA-256 stored, single
 * use, one purpose each, bound to the address they were sent to; a newer one of the same purpose
 * supersedes the older.
 */
export class EmailTokens {
  constructor(private readonly lifetimes: EmailTokenLifetimes) {}

  /** Issues a token in `tx` (the one that queues its mail); returns the only copy and its expiry. */
  async issue(
    tx: Executor,
    input: { userId: string; purpose: EmailTokenPurpose; email: string; sessionId?: string | undefined; now: Date },
  ): Promise<{ token: string; expiresAt: Date }> {
    const token = randomToken();
    const expiresAt = new Date(input.now.getTime() + lifetimeOf(input.purpose, this.lifetimes) * 1000);
    await insertEmailToken(tx, { ...input, tokenHash: sha256Hex(token), expiresAt });
    return { token, expiresAt };
  }

  /** Spends the token if it is good for `purpose`; null otherwise (unknown, expired, spent, superseded, another purpose). */
  spend(
    tx: Executor,
    input: { token: string; purpose: EmailTokenPurpose; now: Date; boundTo: 'account address' | 'new address' },
  ): Promise<SpentEmailToken | null> {
    // Same shape as a refresh token (32 bytes, base64url): anything else was never issued.
    if (!REFRESH_TOKEN_PATTERN.test(input.token)) return Promise.resolve(null);
    return spendEmailToken(tx, { ...input, tokenHash: sha256Hex(input.token) });
  }
}
