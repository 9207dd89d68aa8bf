import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { inArray, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { sha256Hex } from '../src/auth/crypto.js';
import { Throttle } from '../src/auth/throttle.js';
import { connectPostgres, rowsOf } from '../src/db/client.js';
import { throttleCounters } from '../src/db/schema.js';
import { AuthError } from '../src/errors.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { AUTH_FIELDS, PASSWORD, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { backend, type TestDatabase } from './helpers/database.js';
import { codes, type Gql, type GqlResult } from './helpers/gql.js';
import { eventually } from './helpers/eventually.js';

const LOGIN = `mutation ($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken } }`;
const SIGN_UP = `mutation ($email: String!, $password: String!) {
  signUp(email: $email, password: $password) { accessToken } }`;
const CHANGE_PASSWORD = `mutation ($current: String!, $next: String!) {
  changePassword(currentPassword: $current, newPassword: $next) { ${AUTH_FIELDS} } }`;

/** Behind our own proxy (TRUST_PROXY), so each test can speak from addresses of its own. */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { TRUST_PROXY: 'true' } });
});
afterAll(async () => {
  await t?.close();
});
afterEach(() => {
  vi.useRealTimers();
});

let lastOctet = 0;
function newAddress(): string {
  lastOctet += 1;
  return `203.0.113.${lastOctet}`;
}

function loginFrom(gql: Gql, ip: string, email: string, password: string) {
  return gql(LOGIN, { email, password }, { headers: { 'x-forwarded-for': ip } });
}

function retryAfterOf(result: GqlResult): unknown {
  return result.errors?.[0]?.extensions?.retryAfter;
}

describe('login throttling per account and address', () => {
  it('refuses the sixth attempt after five failures, even with the right password, with RATE_LIMITED and retryAfter in whole seconds', async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    for (let i = 0; i < 5; i += 1) {
      expect(codes(await loginFrom(t.gql, ip, user.email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    }
    const refused = await loginFrom(t.gql, ip, user.email, PASSWORD);
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    expect(refused.data).toBeNull();
    const retryAfter = retryAfterOf(refused);
    expect(Number.isInteger(retryAfter)).toBe(true);
    // A failure counts for one window plus at most a tenth of it (the sliding window's buckets).
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(990);
  });

  it('counts an unknown email exactly like a known one, so the limit tells nothing about who has an account', async () => {
    const ip = newAddress();
    const nobody = uniqueEmail('nobody');
    for (let i = 0; i < 5; i += 1) {
      expect(codes(await loginFrom(t.gql, ip, nobody, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    }
    expect(codes(await loginFrom(t.gql, ip, nobody, 'wrong password'))).toEqual(['RATE_LIMITED']);
  });

  it('keeps a separate budget for the same account from another address', async () => {
    const { user } = await signUp(t.gql);
    const attacker = newAddress();
    for (let i = 0; i < 6; i += 1) await loginFrom(t.gql, attacker, user.email, 'wrong password');
    expect(codes(await loginFrom(t.gql, attacker, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);

    const owner = await loginFrom(t.gql, newAddress(), user.email, PASSWORD);
    expect(owner.errors).toBeUndefined();
  });

  it("clears the account's counter on a successful login", async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    for (let i = 0; i < 4; i += 1) await loginFrom(t.gql, ip, user.email, 'wrong password');
    expect((await loginFrom(t.gql, ip, user.email, PASSWORD)).errors).toBeUndefined();
    for (let i = 0; i < 5; i += 1) {
      expect(codes(await loginFrom(t.gql, ip, user.email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    }
    expect(codes(await loginFrom(t.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
  });

  it('checks at most five of twenty wrong passwords sent at once', async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => loginFrom(t.gql, ip, user.email, 'wrong password')),
    );
    const answered = results.map((result) => codes(result)[0]).sort();
    expect(answered.filter((code) => code === 'INVALID_CREDENTIALS')).toHaveLength(5);
    expect(answered.filter((code) => code === 'RATE_LIMITED')).toHaveLength(15);
  });

  it('lets the account try again once its failures have left the window, after exactly retryAfter seconds', async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    // The throttle reads Date, not our injected clock: move (and freeze) Date only.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    for (let i = 0; i < 5; i += 1) await loginFrom(t.gql, ip, user.email, 'wrong password');
    expect(codes(await loginFrom(t.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);

    vi.setSystemTime(Date.now() + 600_000);
    const later = await loginFrom(t.gql, ip, user.email, PASSWORD);
    expect(codes(later)).toEqual(['RATE_LIMITED']);
    const retryAfter = retryAfterOf(later) as number;
    expect(retryAfter).toBeGreaterThan(300);
    expect(retryAfter).toBeLessThanOrEqual(390);

    vi.setSystemTime(Date.now() + (retryAfter - 1) * 1000);
    expect(codes(await loginFrom(t.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    vi.setSystemTime(Date.now() + 1000);
    expect((await loginFrom(t.gql, ip, user.email, PASSWORD)).errors).toBeUndefined();
  });

  it('does not count refused attempts: hammering a locked account does not prolong its lock-out', async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    for (let i = 0; i < 5; i += 1) await loginFrom(t.gql, ip, user.email, 'wrong password');
    const first = await loginFrom(t.gql, ip, user.email, 'wrong password');
    expect(codes(first)).toEqual(['RATE_LIMITED']);
    const unlockedAt = Date.now() + (retryAfterOf(first) as number) * 1000;
    // Ten more tries spread over the lock-out, each refused without checking anything.
    for (let i = 1; i <= 10; i += 1) {
      vi.setSystemTime(unlockedAt - 1000 - (10 - i) * 60_000);
      expect(codes(await loginFrom(t.gql, ip, user.email, 'wrong password'))).toEqual(['RATE_LIMITED']);
    }
    vi.setSystemTime(unlockedAt);
    expect((await loginFrom(t.gql, ip, user.email, PASSWORD)).errors).toBeUndefined();
  });

  it('slides: failures at the end of one window still count at the start of the next, so the boundary gives no second budget', async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const start = Date.now();
    // One failure opens what a fixed-window counter would call a 15-minute window ...
    expect(codes(await loginFrom(t.gql, ip, user.email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    // ... four more in its last second ...
    vi.setSystemTime(start + 899_000);
    for (let i = 0; i < 4; i += 1) {
      expect(codes(await loginFrom(t.gql, ip, user.email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    }
    // ... and right after it ends: a fixed window would allow five more tries here. The four of a
    // second ago still count: one more fits (the first failure left the window), a second does not.
    vi.setSystemTime(start + 990_001);
    expect(codes(await loginFrom(t.gql, ip, user.email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    const refused = await loginFrom(t.gql, ip, user.email, 'wrong password');
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    // Not before the four of second 899 have left the window: 900 s after them, plus at most a tenth.
    const retryAfter = retryAfterOf(refused) as number;
    expect(start + 990_001 + retryAfter * 1000).toBeGreaterThanOrEqual(start + 899_000 + 900_000);
    expect(start + 990_001 + retryAfter * 1000).toBeLessThanOrEqual(start + 899_000 + 990_000 + 1000);
    vi.setSystemTime(start + 899_000 + 900_000 - 1);
    expect(codes(await loginFrom(t.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    vi.setSystemTime(start + 990_001 + retryAfter * 1000);
    expect((await loginFrom(t.gql, ip, user.email, PASSWORD)).errors).toBeUndefined();
  });
});

describe('budgets taken together', () => {
  let strict: TestApp;
  beforeAll(async () => {
    strict = await createTestApp({
      env: { TRUST_PROXY: 'true', LOGIN_MAX_FAILURES_PER_ACCOUNT: '2', LOGIN_MAX_FAILURES_PER_IP: '3' },
      database: t.database,
      clock: t.clock,
    });
  });
  afterAll(async () => {
    await strict?.close();
  });

  it("does not charge the address for an attempt its account's budget refuses, nor the account for one the address's refuses", async () => {
    const ip = newAddress();
    const [first, second, third] = [uniqueEmail(), uniqueEmail(), uniqueEmail()];
    for (let i = 0; i < 2; i += 1) {
      expect(codes(await loginFrom(strict.gql, ip, first, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    }
    // Refused for the account, three times: the address has spent 2 of its 3 points, not 5.
    for (let i = 0; i < 3; i += 1) {
      expect(codes(await loginFrom(strict.gql, ip, first, 'wrong password'))).toEqual(['RATE_LIMITED']);
    }
    expect(codes(await loginFrom(strict.gql, ip, second, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    // Now the address's budget is spent: refused, and the third account keeps nothing of it.
    expect(codes(await loginFrom(strict.gql, ip, third, 'wrong password'))).toEqual(['RATE_LIMITED']);
    expect(await countersOf(accountKeyOf(third, ip))).toEqual([]);
    expect(await countersOf(`login-ip:${ip}`)).toEqual([3]);
  });
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

/** The points a counter row holds, as [sum] (or [] when there is no row). */
async function countersOf(key: string): Promise<number[]> {
  const rows = await t.app.database.db
    .select({ counts: throttleCounters.counts })
    .from(throttleCounters)
    .where(inArray(throttleCounters.key, [key]));
  return rows.map((row) => row.counts.reduce((a, b) => a + b, 0));
}

function accountKeyOf(email: string, ip: string): string {
  return `login-account:${sha256Hex(`${email}\n${ip}`)}`;
}

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
    expect(await countersOf(accountKeyOf(email, ip))).toEqual([5]);
    expect(await countersOf(`login-ip:${ip}`)).toEqual([5]);
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
    expect(await countersOf(`login-ip:${ip}`)).toEqual([3]);
    for (const [i, email] of emails.entries()) {
      expect(await countersOf(accountKeyOf(email, ip))).toEqual(results[i]!.status === 'fulfilled' ? [1] : []);
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
    expect(await countersOf(accountKeyOf(email, ip))).toEqual([1]);
    // The address's: two points taken and kept (the first given back, the success's given back).
    expect(await countersOf(`login-ip:${ip}`)).toEqual([1]);
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
    expect(await countersOf(key)).toEqual([1]);
    await throttle.sweepExpired(new Date(row!.expire.getTime() + 3_600_001));
    expect(await countersOf(key)).toEqual([]);
  });
});

describe('which addresses share a budget', () => {
  let subnet = 0;
  /** A fresh /64 of the documentation prefix for each test. */
  function newPrefix(): string {
    subnet += 1;
    return `2001:db8:${subnet.toString(16)}:`;
  }

  async function failFiveTimes(ip: string, email: string) {
    for (let i = 0; i < 5; i += 1) {
      expect(codes(await loginFrom(t.gql, ip, email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    }
  }

  it('counts every address of one IPv6 /64 against one budget, however the address is written', async () => {
    const { user } = await signUp(t.gql);
    const prefix = newPrefix();
    await failFiveTimes(`${prefix}1::a`, user.email);
    // Another address of the same /64, and the same /64 written out in full and in capitals.
    expect(codes(await loginFrom(t.gql, `${prefix}1:ffff:ffff:ffff:fffe`, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    const [, , third] = prefix.split(':');
    const spelledOut = `2001:0DB8:${third!.padStart(4, '0').toUpperCase()}:0001:0000:0000:0000:0001`;
    expect(codes(await loginFrom(t.gql, spelledOut, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
  });

  it('keeps separate budgets for neighbouring IPv6 /64s', async () => {
    const { user } = await signUp(t.gql);
    const prefix = newPrefix();
    await failFiveTimes(`${prefix}1::a`, user.email);
    expect(codes(await loginFrom(t.gql, `${prefix}1::b`, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    expect((await loginFrom(t.gql, `${prefix}2::a`, user.email, PASSWORD)).errors).toBeUndefined();
  });

  it('counts an IPv4-mapped IPv6 address as its IPv4 address, and two IPv4 addresses apart', async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    await failFiveTimes(`::ffff:${ip}`, user.email);
    expect(codes(await loginFrom(t.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    expect(codes(await loginFrom(t.gql, `::FFFF:${ip}`, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    // IPv4 addresses are not grouped: the next address is someone else.
    expect((await loginFrom(t.gql, newAddress(), user.email, PASSWORD)).errors).toBeUndefined();
  });
});

describe('login throttling per address', () => {
  let strict: TestApp;
  beforeAll(async () => {
    strict = await createTestApp({
      env: { TRUST_PROXY: 'true', LOGIN_MAX_FAILURES_PER_IP: '3', LOGIN_IP_WINDOW: '3600' },
      database: t.database,
      clock: t.clock,
    });
  });
  afterAll(async () => {
    await strict?.close();
  });

  it('refuses an address that failed LOGIN_MAX_FAILURES_PER_IP times, whichever accounts it tried', async () => {
    const ip = newAddress();
    for (let i = 0; i < 3; i += 1) {
      expect(codes(await loginFrom(strict.gql, ip, uniqueEmail('spray'), 'wrong password'))).toEqual([
        'INVALID_CREDENTIALS',
      ]);
    }
    const refused = await loginFrom(strict.gql, ip, uniqueEmail('spray'), 'wrong password');
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    expect(retryAfterOf(refused)).toBeGreaterThan(3000);
    expect(retryAfterOf(refused)).toBeLessThanOrEqual(3960);
  });

  it('does not count successful logins against the address', async () => {
    const { user } = await signUp(strict.gql);
    const ip = newAddress();
    for (let i = 0; i < 6; i += 1) {
      expect((await loginFrom(strict.gql, ip, user.email, PASSWORD)).errors).toBeUndefined();
    }
  });
});

describe('sign-up throttling per address', () => {
  let strict: TestApp;
  beforeAll(async () => {
    strict = await createTestApp({
      env: { TRUST_PROXY: 'true', SIGNUP_MAX_PER_IP: '2' },
      database: t.database,
      clock: t.clock,
    });
  });
  afterAll(async () => {
    await strict?.close();
  });

  it('refuses the sign-up beyond SIGNUP_MAX_PER_IP from one address, and only from that address', async () => {
    const ip = newAddress();
    const from = { headers: { 'x-forwarded-for': ip } };
    for (let i = 0; i < 2; i += 1) {
      expect((await strict.gql(SIGN_UP, { email: uniqueEmail(), password: PASSWORD }, from)).errors).toBeUndefined();
    }
    const refused = await strict.gql(SIGN_UP, { email: uniqueEmail(), password: PASSWORD }, from);
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    expect(Number.isInteger(retryAfterOf(refused))).toBe(true);

    const elsewhere = { headers: { 'x-forwarded-for': newAddress() } };
    expect((await strict.gql(SIGN_UP, { email: uniqueEmail(), password: PASSWORD }, elsewhere)).errors).toBeUndefined();
  });
});

describe('changePassword', () => {
  it('throttles the current-password check like a login, on the same counter', async () => {
    const ip = newAddress();
    const from = { headers: { 'x-forwarded-for': ip } };
    const { user, accessToken } = await signUp(t.gql);
    for (let i = 0; i < 5; i += 1) {
      const wrong = await t.gql(CHANGE_PASSWORD, { current: 'wrong password', next: 'a new passphrase' }, { ...from, token: accessToken });
      expect(codes(wrong)).toEqual(['INVALID_CREDENTIALS']);
    }
    const refused = await t.gql(CHANGE_PASSWORD, { current: PASSWORD, next: 'a new passphrase' }, { ...from, token: accessToken });
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    expect(codes(await loginFrom(t.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
  });
});

describe('shared by every instance', () => {
  let other: TestApp;
  let otherDatabase: TestDatabase | undefined;
  beforeAll(async () => {
    // On PostgreSQL a second instance has its own pool on the same database; PGlite has one process.
    if (backend === 'postgres') {
      const handle = connectPostgres(t.database.url!);
      otherDatabase = { handle, url: t.database.url, drop: () => handle.close() };
    }
    other = await createTestApp({ env: { TRUST_PROXY: 'true' }, database: otherDatabase ?? t.database, clock: t.clock });
  });
  afterAll(async () => {
    await other?.close();
    await otherDatabase?.drop();
  });

  it('counts failures made on one instance when another is asked', async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    for (let i = 0; i < 3; i += 1) await loginFrom(t.gql, ip, user.email, 'wrong password');
    for (let i = 0; i < 2; i += 1) await loginFrom(other.gql, ip, user.email, 'wrong password');
    expect(codes(await loginFrom(t.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    expect(codes(await loginFrom(other.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
  });
});
