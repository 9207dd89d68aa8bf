import { RateLimiterDrizzle, RateLimiterRes } from 'rate-limiter-flexible';
import { lt } from 'drizzle-orm';
import type { ThrottleLimits } from '../config.js';
import type { Database } from '../db/client.js';
import { rateLimits } from '../db/schema.js';
import { AuthError } from '../errors.js';
import { sha256Hex } from './crypto.js';

/**
 * Brute-force throttling of password checks and sign-ups, with rate-limiter-flexible's Drizzle
 * store: the counters live in the database (the `rate_limits` table), so every instance on one
 * PostgreSQL shares them; on the embedded PGlite the database is in process, and so are they.
 *
 * The library counts in fixed windows per key: a window starts with a key's first point and lasts
 * its duration. It has no sliding window, so across a window boundary an attacker can get up to
 * twice the limit in a short time; the limits are set with that in mind.
 *
 * A password check takes its point BEFORE the password is verified and gives it back on success:
 * checking first and counting after would let concurrent requests (or fifty aliases in one
 * document) all pass the check before any of them is counted.
 */
export class Throttle {
  readonly #accountFailures: RateLimiterDrizzle;
  readonly #ipFailures: RateLimiterDrizzle;
  readonly #signUps: RateLimiterDrizzle;
  readonly #db: Database;

  constructor(deps: { db: Database; limits: ThrottleLimits }) {
    this.#db = deps.db;
    const limiter = (keyPrefix: string, limit: { points: number; window: number }) =>
      new RateLimiterDrizzle({
        storeClient: deps.db,
        schema: rateLimits,
        keyPrefix,
        points: limit.points,
        duration: limit.window,
        // The app sweeps expired counters itself (sweepExpired), on a timer it can stop.
        clearExpiredByTimeout: false,
      });
    this.#accountFailures = limiter('login-account', deps.limits.loginFailuresPerAccount);
    this.#ipFailures = limiter('login-ip', deps.limits.loginFailuresPerIp);
    this.#signUps = limiter('signup-ip', deps.limits.signUpsPerIp);
  }

  /**
   * Takes one point from the IP's and from the account-and-IP's failure budgets, or throws
   * RATE_LIMITED. Call `succeeded` on the returned attempt when the password was right.
   */
  async beginPasswordCheck(input: { email: string; ip: string | null }): Promise<PasswordCheckAttempt> {
    const ipKey = ipKeyOf(input.ip);
    // The email is counted whether or not it has an account (no enumeration), and stored hashed.
    const accountKey = sha256Hex(`${input.email}\n${ipKey}`);
    await consumeOrRefuse(this.#ipFailures, ipKey);
    try {
      await consumeOrRefuse(this.#accountFailures, accountKey);
    } catch (error) {
      // The attempt does not happen: it is not a failure of this IP.
      await this.#ipFailures.reward(ipKey, 1);
      throw error;
    }
    return {
      // A success clears the account's counter and is not counted as a failure of the IP.
      succeeded: async () => {
        await this.#accountFailures.delete(accountKey);
        await this.#ipFailures.reward(ipKey, 1);
      },
      abandoned: async () => {
        await this.#accountFailures.reward(accountKey, 1);
        await this.#ipFailures.reward(ipKey, 1);
      },
    };
  }

  /** One sign-up from this IP, or RATE_LIMITED. */
  async signUp(ip: string | null): Promise<void> {
    await consumeOrRefuse(this.#signUps, ipKeyOf(ip));
  }

  /** Deletes counters whose window ended more than an hour ago. */
  async sweepExpired(now: Date): Promise<void> {
    await this.#db.delete(rateLimits).where(lt(rateLimits.expire, new Date(now.getTime() - 3_600_000)));
  }
}

export interface PasswordCheckAttempt {
  succeeded(): Promise<void>;
  /** The password was never checked (the database failed first): the point is given back. */
  abandoned(): Promise<void>;
}

/** Requests without a known address (in-process calls) share one budget rather than none. */
function ipKeyOf(ip: string | null): string {
  return ip ?? 'unknown';
}

async function consumeOrRefuse(limiter: RateLimiterDrizzle, key: string): Promise<void> {
  try {
    await limiter.consume(key, 1);
  } catch (rejection) {
    // The library rejects with a RateLimiterRes when the limit is reached, with an Error when its store fails.
    if (rejection instanceof RateLimiterRes) {
      throw new AuthError('RATE_LIMITED', undefined, {
        retryAfter: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)),
      });
    }
    throw rejection;
  }
}
