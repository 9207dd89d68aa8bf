import { and, eq, gt, lt } from 'drizzle-orm';
import ipaddr from 'ipaddr.js';
import { rawQuery, type Database, type RawQuery } from '../db/client.js';
import { knownLoginAddresses, throttleCounters } from '../db/schema.js';
import { AuthError } from '../errors.js';
import { sha256Hex } from './crypto.js';

/** Attempts allowed per window (seconds) before RATE_LIMITED. */
export interface ThrottleLimits {
  readonly loginFailuresPerAccount: { readonly points: number; readonly window: number };
  readonly loginFailuresPerIp: { readonly points: number; readonly window: number };
  readonly signUpsPerIp: { readonly points: number; readonly window: number };
  /** Failures against one account from every address it was never signed into from. */
  readonly loginFailuresAccountWide: { readonly points: number; readonly window: number };
  /** Seconds an address stays known to an account after its last successful sign-in. */
  readonly knownAddressTtl: number;
}

/**
 * Brute-force throttling of password checks and sign-ups. The counters live in the database
 * (`throttle_counters`), so every instance on one PostgreSQL shares them.
 *
 * A password check takes its point BEFORE the password is verified and gives it back on success:
 * checking first and counting after would let concurrent requests (or fifty aliases in one
 * document) all pass the check before any of them is counted. One statement per check, one more on
 * success; both commit asynchronously (drizzle/0008_throttle_asynchronous_commit.sql), so a crash of
 * PostgreSQL may forget the last fraction of a second's points.
 */
export class Throttle {
  readonly #accountFailures: Budget;
  readonly #ipFailures: Budget;
  readonly #signUps: Budget;
  readonly #accountWideFailures: Budget;
  readonly #secondFactorFailures: Budget;
  readonly #knownAddressTtlMs: number;
  readonly #db: Database;
  readonly #query: RawQuery;

  constructor(deps: { db: Database; limits: ThrottleLimits }) {
    this.#db = deps.db;
    this.#query = rawQuery(deps.db);
    this.#accountFailures = budget('login-account', deps.limits.loginFailuresPerAccount);
    this.#ipFailures = budget('login-ip', deps.limits.loginFailuresPerIp);
    this.#signUps = budget('signup-ip', deps.limits.signUpsPerIp);
    this.#accountWideFailures = budget('login-account-wide', deps.limits.loginFailuresAccountWide);
    this.#secondFactorFailures = budget('second-factor-account', deps.limits.loginFailuresPerAccount);
    this.#knownAddressTtlMs = deps.limits.knownAddressTtl * 1000;
  }

  /**
   * Takes one point from each failure budget the attempt counts against, all or none, or throws
   * RATE_LIMITED: the address's and the account-and-address's (an IPv6 client's by its /64 and its
   * /56), and the account-wide one unless this address signed into the account before: spending
   * that one from many addresses cannot lock out its owner. Call `succeeded` when the password was right.
   */
  async beginPasswordCheck(input: { email: string; ip: string | null }): Promise<PasswordCheckAttempt> {
    // The time of the request, read before any await: concurrent checks of one moment count as one.
    const now = Date.now();
    const addresses = addressKeysOf(input.ip);
    // The email is counted whether or not it has an account (no enumeration), and stored hashed.
    const accountKeys = addresses.map((address) => sha256Hex(`${input.email}\n${address}`));
    const known = await this.#isKnown(accountKeys[0]!);
    const points = await this.#take([
      ...addresses.map((key) => ({ budget: this.#ipFailures, key })),
      ...accountKeys.map((key) => ({ budget: this.#accountFailures, key })),
      ...(known ? [] : [{ budget: this.#accountWideFailures, key: sha256Hex(input.email) }]),
    ], now);
    const [thisAccountAndAddress] = points.splice(addresses.length, 1);
    return {
      // A success clears the account-and-address counter and is no failure for the other budgets:
      // one statement, so that a failure leaves every point for `abandoned` to give back.
      succeeded: async () => {
        await Promise.all([this.#giveBack(points, [thisAccountAndAddress!.key]), this.#remember(accountKeys[0]!)]);
      },
      abandoned: () => this.#giveBack([...points, thisAccountAndAddress!], []),
    };
  }

  /**
   * A second-factor code (TOTP or recovery code) counts as a failed sign-in: against the address's
   * budgets and the account-and-address one, as a password does, and also against a budget of the
   * account alone that no correct password clears, so that knowing the password does not buy five
   * more guesses at the code each time. `succeeded` gives the points back and clears that budget.
   */
  async beginSecondFactorCheck(input: { email: string; userId: string; ip: string | null }): Promise<PasswordCheckAttempt> {
    const now = Date.now();
    const addresses = addressKeysOf(input.ip);
    const secondFactorKey = sha256Hex(`second-factor\n${input.userId}`);
    const points = await this.#take([
      ...addresses.map((key) => ({ budget: this.#ipFailures, key })),
      ...addresses.map((address) => ({ budget: this.#accountFailures, key: sha256Hex(`${input.email}\n${address}`) })),
      { budget: this.#secondFactorFailures, key: secondFactorKey },
    ], now);
    const own = points.pop()!;
    return {
      succeeded: () => this.#giveBack(points, [own.key]),
      abandoned: () => this.#giveBack([...points, own], []),
    };
  }

  async #isKnown(accountKey: string): Promise<boolean> {
    const rows = await this.#db
      .select({ key: knownLoginAddresses.key })
      .from(knownLoginAddresses)
      .where(and(eq(knownLoginAddresses.key, accountKey), gt(knownLoginAddresses.expire, new Date())));
    return rows.length > 0;
  }

  async #remember(accountKey: string): Promise<void> {
    const expire = new Date(Date.now() + this.#knownAddressTtlMs);
    await this.#db
      .insert(knownLoginAddresses)
      .values({ key: accountKey, expire })
      .onConflictDoUpdate({ target: knownLoginAddresses.key, set: { expire } });
  }

  /** One sign-up from this IP, or RATE_LIMITED. */
  async signUp(ip: string | null): Promise<void> {
    await this.#take([{ budget: this.#signUps, key: ipKeyOf(ip) }]);
  }

  /** Deletes counters that expired more than an hour ago, and addresses no longer known. */
  async sweepExpired(now: Date): Promise<void> {
    await this.#db.delete(throttleCounters).where(lt(throttleCounters.expire, new Date(now.getTime() - 3_600_000)));
    await this.#db.delete(knownLoginAddresses).where(lt(knownLoginAddresses.expire, now));
  }

  /**
   * One point from each budget, all or none, in one call of `throttle_take`
   * (drizzle/0006_throttle_counters.sql); RATE_LIMITED with the retryAfter of the budget that
   * frees up last when any is spent.
   */
  async #take(takes: readonly { budget: Budget; key: string }[], now = Date.now()): Promise<TakenPoint[]> {
    const keys = takes.map(({ budget, key }) => `${budget.prefix}:${key}`);
    const rows = await this.#query<TakeRow>('select * from throttle_take($1::text[], $2::bigint[], $3::integer[], $4::bigint[])', [
      keys,
      takes.map(({ budget }) => Math.floor(now / budget.bucketMs)),
      takes.map(({ budget }) => budget.points),
      takes.map(({ budget }) => budget.bucketMs),
    ]);
    const byKey = new Map(rows.map((row) => [row.key, row]));
    const answers = keys.map((key) => {
      const row = byKey.get(key);
      if (!row) throw new Error(`throttle_take answered no row for a budget`);
      return row;
    });
    if (answers.every((row) => row.taken)) {
      return answers.map((row) => ({ key: row.key, incarnation: row.incarnation, bucket: row.head }));
    }
    let retryAfter = 0;
    for (const [i, row] of answers.entries()) {
      const { points, bucketMs } = takes[i]!.budget;
      if (sum(row.counts) >= points) retryAfter = Math.max(retryAfter, retryAfterOf(row, points, bucketMs, now));
    }
    throw new AuthError('RATE_LIMITED', undefined, { retryAfter });
  }

  /**
   * Gives the points back to the rows they were taken from (not to a later row of a cleared key,
   * whose points are others'), and forgets every point of the `cleared` keys; one call of
   * `throttle_give_back` (drizzle/0008_throttle_asynchronous_commit.sql), which locks the rows in
   * key order as `throttle_take` does, so that a give-back and a take never deadlock.
   */
  async #giveBack(points: readonly TakenPoint[], cleared: readonly string[]): Promise<void> {
    await this.#query('select throttle_give_back($1::text[], $2::bigint[], $3::bigint[], $4::text[])', [
      points.map((point) => point.key),
      points.map((point) => point.incarnation),
      points.map((point) => point.bucket),
      cleared,
    ]);
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
/** Buckets kept per row: a window's and the one being filled. `throttle_take` and `throttle_give_back` have it as 11 too. */
const BUCKETS = BUCKETS_PER_WINDOW + 1;

/**
 * At most `points` in ANY `window` seconds: a sliding window. A fixed-window counter would let an
 * attacker spend a whole budget at the end of one window and another at the start of the next
 * (twice the limit in moments).
 *
 * Each key is counted in buckets of window/10 aligned on the epoch, all in one row: its newest
 * bucket (`head`) and the counts of the eleven buckets ending there. A point is taken under the
 * row's lock: the row moves forward to the taker's bucket, and the point is allowed only when the
 * eleven counts, its own included, are within the budget. Any interval of one window lies within
 * the eleven buckets ending at the taker's, hence never more than `points`. Since every taker of a
 * key locks its one row, of concurrent takers exactly the first ones fit (a sum over several rows
 * read in one statement could miss a concurrent taker's point in a neighbouring bucket). A refused
 * point is not counted at all: refusals do not extend the lock-out.
 *
 * Time is Date's (the tests move it with fake timers), for the buckets and the rows' expiry alike.
 */
interface Budget {
  readonly prefix: string;
  readonly points: number;
  readonly bucketMs: number;
}

function budget(prefix: string, limit: { points: number; window: number }): Budget {
  return { prefix, points: limit.points, bucketMs: Math.ceil((limit.window * 1000) / BUCKETS_PER_WINDOW) };
}

/** Where a taken point was counted, to give it back there. */
interface TakenPoint {
  readonly key: string;
  readonly incarnation: number;
  readonly bucket: number;
}

interface TakeRow {
  key: string;
  incarnation: number;
  head: number;
  /** BUCKETS counts, oldest first, ending at `head`; without the point when it was refused. */
  counts: number[];
  /** Whether the point was taken from every budget of the call. */
  taken: boolean;
}

/**
 * Seconds until a point would fit, if nobody else takes one: the first bucket boundary at which
 * enough of the counted buckets have left the look-back.
 */
function retryAfterOf(row: TakeRow, points: number, bucketMs: number, now: number): number {
  for (let ahead = 1; ahead < BUCKETS; ahead += 1) {
    if (sum(row.counts.slice(ahead)) < points) return Math.max(1, Math.ceil(((row.head + ahead) * bucketMs - now) / 1000));
  }
  return Math.max(1, Math.ceil(((row.head + BUCKETS) * bucketMs - now) / 1000));
}

function sum(counts: readonly number[]): number {
  return counts.reduce((total, count) => total + count, 0);
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
  return addressKeysOf(ip)[0]!;
}

/**
 * The budgets an address counts against: its own key (ipKeyOf), and for IPv6 its /56 too, what a
 * household or small site is routinely given: a /48 holds 65,536 /64s but only 256 /56s.
 */
function addressKeysOf(ip: string | null): string[] {
  if (ip === null) return ['unknown'];
  if (!ipaddr.isValid(ip)) return [`unparsed:${ip}`];
  const address = ipaddr.process(ip);
  if (address.kind() === 'ipv4') return [address.toString()];
  const parts = (address as ipaddr.IPv6).parts;
  const prefix64 = new ipaddr.IPv6([...parts.slice(0, 4), 0, 0, 0, 0]);
  const prefix56 = new ipaddr.IPv6([...parts.slice(0, 3), parts[3]! & 0xff00, 0, 0, 0, 0]);
  return [`${prefix64.toRFC5952String()}/64`, `${prefix56.toRFC5952String()}/56`];
}
