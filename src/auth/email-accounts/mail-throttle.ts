import type { Clock } from '../../clock.js';
import { rawQuery, type Database, type RawQuery } from '../../db/client.js';
import { AuthError } from '../../errors.js';
import { sha256Hex } from '../crypto.js';
import { budget, ipKeyOf, takePoints, type Budget } from '../throttle.js';

/** Mails allowed per hour, by what they are counted against. */
export interface MailLimits {
  /** To one address (MAIL_MAX_PER_RECIPIENT_PER_HOUR); also the budget of one account. */
  readonly perRecipientPerHour: number;
  /** Requested from one client IP, or IPv6 /64 (MAIL_MAX_PER_IP_PER_HOUR). */
  readonly perIpPerHour: number;
}

/** What one mail-sending request is counted against. */
export interface MailRequestKeys {
  /**
   * The address the mail would go to, exactly as the request names it (normalised), whether or not an
   * account has it: a limit counted only for existing accounts would tell which ones exist.
   */
  readonly recipient: string;
  /** The client's IP (ClientInfo.ip); null shares one budget with every in-process call. */
  readonly ip: string | null;
  /** The account the mail is about, when the caller is signed in (an email change's new address differs from the account's). */
  readonly userId?: string | undefined;
}

const HOUR_SECONDS = 3600;

/**
 * The one limit of every mail-sending mutation: per recipient address, per account and per client
 * IP, all or none, in the shared throttle counters (so every instance on one PostgreSQL counts
 * alike). Counted when the request is made, before anything is looked up: a request for an unknown
 * address costs the same as one for a known address, so RATE_LIMITED (with its retryAfter) says
 * nothing about whether an account exists. Time is the injected clock's.
 */
export class MailThrottle {
  readonly #perRecipient: Budget;
  readonly #perAccount: Budget;
  readonly #perIp: Budget;
  readonly #query: RawQuery;
  readonly #clock: Clock;

  constructor(deps: { db: Database; clock: Clock; limits: MailLimits }) {
    this.#query = rawQuery(deps.db);
    this.#clock = deps.clock;
    this.#perRecipient = budget('mail-recipient', { points: deps.limits.perRecipientPerHour, window: HOUR_SECONDS });
    this.#perAccount = budget('mail-account', { points: deps.limits.perRecipientPerHour, window: HOUR_SECONDS });
    this.#perIp = budget('mail-ip', { points: deps.limits.perIpPerHour, window: HOUR_SECONDS });
  }

  /** Counts one mail, or throws RATE_LIMITED with retryAfter (seconds) and counts nothing. */
  async take(keys: MailRequestKeys): Promise<void> {
    await takePoints(this.#query, this.#takes(keys), this.#clock().getTime());
  }

  /** As `take`, but false instead of RATE_LIMITED: for mails sent beside another answer (login's new verification link). */
  async tryTake(keys: MailRequestKeys): Promise<boolean> {
    try {
      await this.take(keys);
      return true;
    } catch (error) {
      if (error instanceof AuthError && error.code === 'RATE_LIMITED') return false;
      throw error;
    }
  }

  #takes(keys: MailRequestKeys): { budget: Budget; key: string }[] {
    return [
      // Hashed: the counters table never holds an address.
      { budget: this.#perRecipient, key: sha256Hex(keys.recipient) },
      ...(keys.userId ? [{ budget: this.#perAccount, key: keys.userId }] : []),
      { budget: this.#perIp, key: ipKeyOf(keys.ip) },
    ];
  }
}
