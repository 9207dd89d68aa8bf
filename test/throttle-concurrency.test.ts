import { inArray, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Throttle } from '../src/auth/throttle.js';
import { rowsOf } from '../src/db/client.js';
import { throttleCounters } from '../src/db/schema.js';
import { type AuthError } from '../src/errors.js';
import { useTestApp } from './helpers/app.js';
import { PASSWORD, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { backend } from './helpers/database.js';
import { eventually } from './helpers/eventually.js';
import { codes } from './helpers/gql.js';
import { accountKeyOf, countersOf, loginFrom, newAddress, PROXIED } from './helpers/throttle.js';

const t = useTestApp({ env: PROXIED });
afterEach(() => {
  vi.useRealTimers();
});

describe.skipIf(backend !== 'postgres')('a successful login beside another of the same account (PostgreSQL only)', () => {
  it("gives its points back while the other takes its own: both sign in, neither fails on a deadlock", async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    // Two connections hold locks at chosen moments; a third watches who waits for what.
    const other = postgres(t.database.url!, { max: 3, onnotice: () => {} });
    const releases: (() => void)[] = [];
    const hold = (statement: (tx: postgres.TransactionSql) => Promise<unknown>) => {
      let held!: () => void;
      const isHeld = new Promise<void>((resolve) => (held = resolve));
      const released = new Promise<void>((resolve) => releases.push(resolve));
      const done = other.begin(async (tx) => {
        await statement(tx);
        held();
        await released;
      });
      return { isHeld, release: releases.at(-1)!, done };
    };
    const waitingOn = (pattern: string, except = '') =>
      eventually(async () => {
        const rows = await other`select 1 from pg_stat_activity where datname = current_database()
          and wait_event_type = 'Lock' and query like ${pattern} and query not like ${except || '-'}`;
        return rows.length > 0;
      });
    try {
      // The first login is held between its take (done) and its give-back: it waits to read the user.
      const users = hold((tx) => tx`lock table users in access exclusive mode`);
      await users.isHeld;
      const first = loginFrom(t.gql, ip, user.email, PASSWORD);
      await waitingOn('%users%');
      // Then its give-back waits for the address's row, held here...
      const address = hold((tx) => tx`select 1 from throttle_counters where key = ${`login-ip:${ip}`} for update`);
      await address.isHeld;
      users.release();
      await users.done;
      await waitingOn('%throttle_give_back%');
      // ...while the second login's take of the same account and address waits too.
      const second = loginFrom(t.gql, ip, user.email, PASSWORD);
      await waitingOn('%throttle_take%');
      address.release();
      await address.done;
      const results = await Promise.all([first, second]);
      expect(results.map(codes)).toEqual([[], []]);
    } finally {
      for (const release of releases) release();
      await other.end();
    }
  });
});

/**
 * The throttle itself, on the test's database: concurrency needs takers that read the time at the
 * same moment as each other, which requests through GraphQL cannot be made to do.
 */
describe('the throttle under concurrent takers', () => {
  /** Buckets of 90 s for an account, 360 s for an address. */
  function throttleWith(pointsPerIp: number): Throttle {
    return new Throttle({
      db: t.app.database.db,
      limits: {
        loginFailuresPerAccount: { points: 5, window: 900 },
        loginFailuresPerIp: { points: pointsPerIp, window: 3600 },
        signUpsPerIp: { points: 2, window: 3600 },
        loginFailuresAccountWide: { points: 1000, window: 3600 },
        knownAddressTtl: 3600,
      },
    });
  }

  /** Starts `count` checks now (each reads the time before its first await), then moves Date on. */
  function startChecks(throttle: Throttle, count: number, at: number, input: () => { email: string; ip: string }) {
    vi.setSystemTime(at);
    return Array.from({ length: count }, () => throttle.beginPasswordCheck(input()));
  }

  function fitted(results: PromiseSettledResult<unknown>[]): number {
    for (const result of results) {
      if (result.status === 'rejected') expect((result.reason as AuthError).code).toBe('RATE_LIMITED');
    }
    return results.filter((result) => result.status === 'fulfilled').length;
  }

  it("of twenty concurrent attempts on one account, either side of a bucket boundary, exactly the account's five fit", async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const throttle = throttleWith(100);
    const email = uniqueEmail();
    const ip = newAddress();
    // A boundary of the account's buckets and of the address's alike.
    const boundary = Math.ceil(Date.now() / 360_000) * 360_000;
    const attempts = [
      ...startChecks(throttle, 10, boundary - 1, () => ({ email, ip })),
      ...startChecks(throttle, 10, boundary, () => ({ email, ip })),
    ];
    expect(fitted(await Promise.allSettled(attempts))).toBe(5);
    expect(await countersOf(t, accountKeyOf(email, ip))).toEqual([5]);
    expect(await countersOf(t, `login-ip:${ip}`)).toEqual([5]);
  });

  it("of twenty concurrent attempts on twenty accounts from one address, exactly the address's three fit, and the refused leave no counter behind", async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const throttle = throttleWith(3);
    const ip = newAddress();
    const emails = Array.from({ length: 20 }, () => uniqueEmail());
    const boundary = Math.ceil(Date.now() / 360_000) * 360_000;
    let next = 0;
    const attempts = [
      ...startChecks(throttle, 10, boundary - 1, () => ({ email: emails[next++]!, ip })),
      ...startChecks(throttle, 10, boundary, () => ({ email: emails[next++]!, ip })),
    ];
    const results = await Promise.allSettled(attempts);
    expect(fitted(results)).toBe(3);
    expect(await countersOf(t, `login-ip:${ip}`)).toEqual([3]);
    for (const [i, email] of emails.entries()) {
      expect(await countersOf(t, accountKeyOf(email, ip))).toEqual(results[i]!.status === 'fulfilled' ? [1] : []);
    }
  });

  it('gives points back only to the counter they were taken from: not to a later one of the same account, after a success cleared it', async () => {
    const throttle = throttleWith(3);
    const email = uniqueEmail();
    const ip = newAddress();
    const lost = await throttle.beginPasswordCheck({ email, ip });
    await (await throttle.beginPasswordCheck({ email, ip })).succeeded();
    await throttle.beginPasswordCheck({ email, ip });
    // The first check's database failed: its point goes back, but its counter is gone.
    await lost.abandoned();
    expect(await countersOf(t, accountKeyOf(email, ip))).toEqual([1]);
    // The address's: two points taken and kept (the first given back, the success's given back).
    expect(await countersOf(t, `login-ip:${ip}`)).toEqual([1]);
  });

  it("commits its takes and give-backs without waiting for the disk, and only those", async () => {
    // Observed inside a transaction of our own: the setting the calls leave is what its COMMIT uses.
    const settingsAfter = (call: string) =>
      t.app.database.db.transaction(async (tx) => {
        const before = rowsOf<{ setting: string }>(await tx.execute(sql`select current_setting('synchronous_commit') as setting`));
        await tx.execute(sql.raw(call));
        const after = rowsOf<{ setting: string }>(await tx.execute(sql`select current_setting('synchronous_commit') as setting`));
        return [before[0]!.setting, after[0]!.setting];
      });
    const key = `probe:${crypto.randomUUID()}`;
    expect(await settingsAfter(`select * from throttle_take(array['${key}'], array[1]::bigint[], array[5], array[1000]::bigint[])`)).toEqual(['on', 'off']);
    expect(await settingsAfter(`select throttle_give_back(array['${key}'], array[1]::bigint[], array[1]::bigint[], array[]::text[])`)).toEqual(['on', 'off']);
    expect(await settingsAfter(`select count(*) from throttle_counters`)).toEqual(['on', 'on']);
  });

  it('sweeps a counter an hour after its last point has left every look-back, not before', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const throttle = throttleWith(3);
    const ip = newAddress();
    await throttle.signUp(ip);
    const key = `signup-ip:${ip}`;
    const [row] = await t.app.database.db.select().from(throttleCounters).where(inArray(throttleCounters.key, [key]));
    // Counted for 11 buckets of 360 s from the start of its own.
    expect(row!.expire.getTime()).toBe((Math.floor(Date.now() / 360_000) + 11) * 360_000);
    await throttle.sweepExpired(new Date(row!.expire.getTime() + 3_600_000));
    expect(await countersOf(t, key)).toEqual([1]);
    await throttle.sweepExpired(new Date(row!.expire.getTime() + 3_600_001));
    expect(await countersOf(t, key)).toEqual([]);
  });
});
