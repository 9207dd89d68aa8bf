import { RateLimiterDrizzle, RateLimiterRes } from 'rate-limiter-flexible';
import { and, gt, inArray, lt } from 'drizzle-orm';
import ipaddr from 'ipaddr.js';
import type { ThrottleLimits } from '../config.js';
import type { Database } from '../db/client.js';
import { rateLimits } from '../db/schema.js';
import { AuthError } from '../errors.js';
import { sha256Hex } from './crypto.js';

/**
 * Brute-force throttling of password checks and sign-ups, on rate-limiter-flexible's Drizzle store:
 * the counters live in the database (the `rate_limits` table), so every instance on one PostgreSQL
 * shares them; on the embedded PGlite the database is in process, and so are they.
 *
 * A password check takes its point BEFORE the password is verified and gives it back on success:
 * checking first and counting after would let concurrent requests (or fifty aliases in one
 * document) all pass the check before any of them is counted.
 */
export class Throttle {
  readonly #accountFailures: SlidingBudget;
  readonly #ipFailures: SlidingBudget;
  readonly #signUps: SlidingBudget;
  readonly #db: Database;

  constructor(deps: { db: Database; limits: ThrottleLimits }) {
    this.#db = deps.db;
    this.#accountFailures = new SlidingBudget(deps.db, 'login-account', deps.limits.loginFailuresPerAccount);
    this.#ipFailures = new SlidingBudget(deps.db, 'login-ip', deps.limits.loginFailuresPerIp);
    this.#signUps = new SlidingBudget(deps.db, 'signup-ip', deps.limits.signUpsPerIp);
  }

  /**
   * Takes one point from the IP's and from the account-and-IP's failure budgets, or throws
   * RATE_LIMITED. Call `succeeded` on the returned attempt when the password was right.
   */
  async beginPasswordCheck(input: { email: string; ip: string | null }): Promise<PasswordCheckAttempt> {
    const ipKey = ipKeyOf(input.ip);
    // The email is counted whether or not it has an account (no enumeration), and stored hashed.
    const accountKey = sha256Hex(`${input.email}\n${ipKey}`);
    const ipPoint = await this.#ipFailures.take(ipKey);
    let accountPoint: TakenPoint;
    try {
      accountPoint = await this.#accountFailures.take(accountKey);
    } catch (error) {
      // The attempt does not happen: it is not a failure of this IP.
      await this.#ipFailures.giveBack(ipPoint);
      throw error;
    }
    return {
      // A success clears the account's counter and is not counted as a failure of the IP.
      // The IP's point first: if the clearing then fails, `abandoned` gives the account's back.
      succeeded: async () => {
        await this.#ipFailures.giveBack(ipPoint);
        await this.#accountFailures.clear(accountKey);
      },
      abandoned: async () => {
        await this.#accountFailures.giveBack(accountPoint);
        await this.#ipFailures.giveBack(ipPoint);
      },
    };
  }

  /** One sign-up from this IP, or RATE_LIMITED. */
  async signUp(ip: string | null): Promise<void> {
    await this.#signUps.take(ipKeyOf(ip));
  }

  /** Deletes counters that expired more than an hour ago. */
  async sweepExpired(now: Date): Promise<void> {
    await this.#db.delete(rateLimits).where(lt(rateLimits.expire, new Date(now.getTime() - 3_600_000)));
  }
}

export interface PasswordCheckAttempt {
  succeeded(): Promise<void>;
  /** The password was never checked (the database failed first): the point is given back. */
  abandoned(): Promise<void>;
}

/**
 * Buckets per window. A point counts against its budget for between one window and one window plus
 * a bucket (1.1 windows): strictness costs a little over-counting, never under-counting.
 */
const BUCKETS_PER_WINDOW = 10;

/** Where a taken point was counted, to give it back there. */
type TakenPoint = string;

/**
 * At most `points` in ANY `window` seconds: a sliding window, built on the library's atomic
 * fixed-window counters. rate-limiter-flexible only counts fixed windows, which let an attacker
 * spend a whole budget at the end of one window and another at the start of the next (twice the
 * limit in moments); its blockDuration does not close that gap either, since it only starts once a
 * window overflows, not when a part-spent window ends.
 *
 * So each key is counted in buckets of window/10 aligned on the epoch, one library counter per
 * bucket (its duration outlives the bucket's time in the look-back). A point is taken by
 * incrementing the current bucket atomically, then reading the previous ten buckets and the next
 * one: a point is allowed only when their sum, its own included, is within the budget. The
 * increments are atomic, so of concurrent takers exactly the first ones fit; reading the next
 * bucket as well makes two takers on either side of a bucket boundary see each other. Any interval
 * of one window lies within the eleven buckets looked at, hence never more than `points`. A refused
 * point is given back at once: refusals do not extend the lock-out.
 *
 * Time is the library's own (Date), for the counters' expiry and the buckets alike.
 */
class SlidingBudget {
  readonly #limiter: RateLimiterDrizzle;
  readonly #points: number;
  readonly #bucketMs: number;

  constructor(
    private readonly db: Database,
    keyPrefix: string,
    limit: { points: number; window: number },
  ) {
    this.#points = limit.points;
    this.#bucketMs = Math.ceil((limit.window * 1000) / BUCKETS_PER_WINDOW);
    this.#limiter = new RateLimiterDrizzle({
      storeClient: db,
      schema: rateLimits,
      keyPrefix,
      points: limit.points,
      // A bucket's counter must live until the bucket has left every look-back: a window past its end.
      duration: Math.ceil((limit.window * 1000 + this.#bucketMs) / 1000),
      // The app sweeps expired counters itself (Throttle.sweepExpired), on a timer it can stop.
      clearExpiredByTimeout: false,
    });
  }

  /** Takes one point, or throws RATE_LIMITED with retryAfter (seconds) and takes nothing. */
  async take(key: string): Promise<TakenPoint> {
    const now = Date.now();
    const bucket = Math.floor(now / this.#bucketMs);
    const taken = bucketKey(key, bucket);
    let current: number;
    try {
      current = (await this.#limiter.consume(taken, 1)).consumedPoints;
    } catch (rejection) {
      // The library rejects with a RateLimiterRes when the bucket alone is over the budget, with an Error when its store fails.
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      current = rejection.consumedPoints;
    }
    const first = bucket - BUCKETS_PER_WINDOW;
    const counts = await this.#counts(key, first, bucket + 1, now);
    const total = counts.reduce((sum, count, i) => sum + (first + i === bucket ? 0 : count), current);
    if (total <= this.#points) return taken;
    await this.#limiter.reward(taken, 1);
    counts[BUCKETS_PER_WINDOW] = current - 1;
    throw new AuthError('RATE_LIMITED', undefined, { retryAfter: this.#retryAfter(counts, bucket, now) });
  }

  async giveBack(taken: TakenPoint): Promise<void> {
    await this.#limiter.reward(taken, 1);
  }

  /** Forgets every point of the key still in a look-back. */
  async clear(key: string): Promise<void> {
    const bucket = Math.floor(Date.now() / this.#bucketMs);
    const keys = [];
    for (let b = bucket - BUCKETS_PER_WINDOW; b <= bucket + 1; b += 1) keys.push(this.#limiter.getKey(bucketKey(key, b)));
    await this.db.delete(rateLimits).where(inArray(rateLimits.key, keys));
  }

  /** Points of buckets from..to of the key, in one query; index 0 is `from`. */
  async #counts(key: string, from: number, to: number, now: number): Promise<number[]> {
    const keys = new Map<string, number>();
    for (let b = from; b <= to; b += 1) keys.set(this.#limiter.getKey(bucketKey(key, b)), b - from);
    const rows = await this.db
      .select({ key: rateLimits.key, points: rateLimits.points })
      .from(rateLimits)
      .where(and(inArray(rateLimits.key, [...keys.keys()]), gt(rateLimits.expire, new Date(now))));
    const counts = Array.from({ length: to - from + 1 }, () => 0);
    for (const row of rows) counts[keys.get(row.key)!] = Math.max(0, row.points);
    return counts;
  }

  /**
   * Seconds until a point would fit, if nobody else takes one: the first bucket boundary at which
   * enough of the counted buckets have left the look-back. `counts` starts ten buckets back.
   */
  #retryAfter(counts: readonly number[], bucket: number, now: number): number {
    for (let ahead = 1; ahead <= BUCKETS_PER_WINDOW + 1; ahead += 1) {
      const stillCounted = counts.slice(ahead).reduce((sum, count) => sum + count, 0);
      if (stillCounted < this.#points) return Math.max(1, Math.ceil(((bucket + ahead) * this.#bucketMs - now) / 1000));
    }
    return Math.ceil((this.#bucketMs * (BUCKETS_PER_WINDOW + 1)) / 1000);
  }
}

function bucketKey(key: string, bucket: number): string {
  return `${key}@${bucket}`;
}

/**
 * The budget an address counts against. Requests without a known address (in-process calls) share
 * one budget rather than none. An IPv6 client is counted by its /64: that is what one subscriber
 * (and so one attacker) is routinely given, and counting single addresses would hand them 2^64
 * budgets. An IPv4-mapped IPv6 address (::ffff:1.2.3.4, what a dual-stack socket reports for an IPv4
 * peer) is that IPv4 address, so the two spellings share one budget; so do all spellings of one
 * IPv6 address, since the key is the parsed address, not the text.
 */
export function ipKeyOf(ip: string | null): string {
  if (ip === null) return 'unknown';
  if (!ipaddr.isValid(ip)) return `unparsed:${ip}`;
  const address = ipaddr.process(ip);
  if (address.kind() === 'ipv4') return address.toString();
  const prefix = new ipaddr.IPv6([...(address as ipaddr.IPv6).parts.slice(0, 4), 0, 0, 0, 0]);
  return `${prefix.toRFC5952String()}/64`;
}
