import { count, eq, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/auth/crypto.js';
import { connectPostgres, rowsOf } from '../src/db/client.js';
import { refreshTokens, sessions } from '../src/db/schema.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { AUTH_FIELDS, login, PASSWORD, REFRESH, refresh, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { backend, createTestDatabase, type TestDatabase } from './helpers/database.js';
import { codes, type GqlResult } from './helpers/gql.js';
import { holdLock } from './helpers/locks.js';
import { createTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { eventually } from './helpers/eventually.js';

/**
 * Database faults, on PostgreSQL only: the app reaches its database through a TCP proxy that the
 * tests cut, hang and restore (the shared PostgreSQL server itself is never touched).
 */
const OUTAGE_ANSWER_MS = 5000;

describe.skipIf(backend !== 'postgres')('database faults (PostgreSQL only)', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    const direct = new URL(database.url!);
    proxy = await createTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    const handle = connectPostgres(proxy.urlFor(database.url!));
    t = await createTestApp({ database: { handle, url: handle.url, drop: async () => {} } });
  });
  afterAll(async () => {
    await t?.close();
    await t?.app.database.close();
    await proxy?.close();
    await database?.drop();
  });

  /** Runs a request and checks it answered in time; returns the result. */
  async function timed<T>(request: () => Promise<T> | T): Promise<T> {
    const started = performance.now();
    const result = await request();
    expect(performance.now() - started).toBeLessThan(OUTAGE_ANSWER_MS);
    return result;
  }

  const loginAs = (email: string) =>
    t.gql(`mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { ${AUTH_FIELDS} } }`, {
      e: email,
      p: PASSWORD,
    });

  /** Every request that needs the database, during an outage. */
  async function expectOutageAnswers(user: { email: string; accessToken: string; refreshToken: string }) {
    // At once, as concurrent clients would send them.
    const requests: [string, () => Promise<GqlResult>][] = [
      ['login', () => loginAs(user.email)],
      ['signUp', () => t.gql(`mutation { signUp(email: "${uniqueEmail()}", password: "${PASSWORD}") { accessToken } }`)],
      ['refresh', () => t.gql(REFRESH, { refreshToken: user.refreshToken })],
      ['me', () => t.gql('{ me { email } }', {}, { token: user.accessToken })],
      ['mySessions', () => t.gql('{ mySessions { id } }', {}, { token: user.accessToken })],
      ['myAuthEvents', () => t.gql('{ myAuthEvents { id } }', {}, { token: user.accessToken })],
    ];
    const results = await Promise.all(requests.map(async ([name, request]) => [name, await timed(request)] as const));
    for (const [name, result] of results) {
      expect(codes(result), name).toEqual(['SERVICE_UNAVAILABLE']);
      expect(JSON.stringify(result.errors), name).not.toMatch(/stack| {4}at /);
    }
    const ready = await timed(() => t.app.yoga.fetch('http://localhost/ready'));
    expect(ready.status).not.toBe(200);
    const health = await t.app.yoga.fetch('http://localhost/health');
    expect(health.status).toBe(200);
  }

  async function expectRecovered(user: { email: string }) {
    await eventually(async () => codes(await loginAs(user.email)).length === 0, 15_000);
    const again = await login(t.gql, { email: user.email });
    expect(codes(await t.gql('{ me { id } }', {}, { token: again.accessToken }))).toEqual([]);
    expect(codes(await t.gql(REFRESH, { refreshToken: again.refreshToken }))).toEqual([]);
    expect((await t.app.yoga.fetch('http://localhost/ready')).status).toBe(200);
  }

  it('answers SERVICE_UNAVAILABLE within 5 s while PostgreSQL is unreachable, and recovers by itself (PostgreSQL only)', async () => {
    const email = uniqueEmail();
    const before = await signUp(t.gql, { email });
    // Traffic before the outage keeps pooled connections open: they die with it.
    await Promise.all([login(t.gql, { email }), login(t.gql, { email }), refresh(t.gql, before.refreshToken)]);
    const user = { email, ...(await login(t.gql, { email })) };

    proxy.cut();
    await expectOutageAnswers(user);
    proxy.restore();
    await expectRecovered(user);
  });

  it.each([
    ['PostgreSQL hangs (nothing gets through)', () => proxy.hang()],
    // A connection closed cleanly during its start-up made postgres.js reconnect for the waiting query
    // without end (patches/postgres+3.4.9.patch): the request hung until the database was back.
    ['a proxy accepts connections and closes them at once', () => proxy.drop()],
    // Each byte restarts the read watchdog and the server has long finished: only the deadline on
    // every database call (src/db/deadline.ts) ends the wait of a query on a pooled connection.
    ['the answers arrive a byte at a time', () => proxy.trickle()],
  ] as const)('answers SERVICE_UNAVAILABLE within 5 s while %s, and recovers (PostgreSQL only)', async (_outage, begin) => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const user = { email, ...(await login(t.gql, { email })) };

    begin();
    await expectOutageAnswers(user);
    proxy.restore();
    await expectRecovered(user);
  });

  it('answers a logout SERVICE_UNAVAILABLE within 5 s while the answers arrive a byte at a time (its transaction is bounded too), and writes the end once they flow again (PostgreSQL only)', async () => {
    const user = await signUp(t.gql);
    const endedAt = async () =>
      (await t.app.database.db.select({ endedAt: sessions.endedAt }).from(sessions).where(eq(sessions.id, user.session.id)))[0]!.endedAt;

    proxy.trickle();
    const logout = await timed(() => t.gql('mutation { logout }', {}, { token: user.accessToken }));
    expect(codes(logout)).toEqual(['SERVICE_UNAVAILABLE']);
    proxy.restore();
    await eventually(async () => (await endedAt()) !== null, 15_000);
  });

  it('leaves the family as it was when the connection dies under a rotation: the token works once, no successor is left (PostgreSQL only)', async () => {
    const first = await signUp(t.gql);
    const tokensOfSession = async () =>
      (await t.app.database.db.select({ n: count() }).from(refreshTokens).where(eq(refreshTokens.sessionId, first.session.id)))[0]!.n;
    expect(await tokensOfSession()).toBe(1);

    // The rotation is one statement (its own transaction: spend, touch, successor, audit), so there
    // are no steps to be cut between; the connection dies as the statement carrying the hash is sent.
    const hash = Buffer.from(sha256Hex(first.refreshToken));
    const killed = proxy.killOnClientData((chunk) => chunk.includes(hash));
    const broken = await timed(() => t.gql(REFRESH, { refreshToken: first.refreshToken }));
    await killed;
    expect(codes(broken)).toEqual(['SERVICE_UNAVAILABLE']);
    expect(await tokensOfSession()).toBe(1);

    const second = await refresh(t.gql, first.refreshToken);
    expect(await tokensOfSession()).toBe(2);
    expect(codes(await t.gql('{ me { id } }', {}, { token: second.accessToken }))).toEqual([]);
    // Once: the same token again is a retry of a lost response, answered with the same successor.
    expect((await refresh(t.gql, first.refreshToken)).refreshToken).toBe(second.refreshToken);
    expect(await tokensOfSession()).toBe(2);
    expect(codes(await t.gql(REFRESH, { refreshToken: second.refreshToken }))).toEqual([]);
  });

  it('survives its connections being terminated by the server mid-traffic (as in a restart): only SERVICE_UNAVAILABLE, then recovery (PostgreSQL only)', async () => {
    const admin = postgres(process.env.TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
    const name = new URL(database.url!).pathname.slice(1);
    try {
      // Four clients of four accounts, which keep logging in and refreshing as real traffic would. One
      // account each: a throttle point taken just as its connection died (the reply lost) stays taken,
      // and shared by four clients such points could add up to an account's budget within the test.
      const emails = Array.from({ length: 4 }, () => uniqueEmail());
      for (const email of emails) await signUp(t.gql, { email });
      const seen = new Set<string>();
      let stop = false;
      const traffic = emails.map(async (email) => {
        while (!stop) {
          const result = await timed(() => loginAs(email));
          for (const code of codes(result)) seen.add(code ?? 'none');
          const token = result.data?.login?.refreshToken as string | undefined;
          if (token) for (const code of codes(await timed(() => t.gql(REFRESH, { refreshToken: token })))) seen.add(code ?? 'none');
        }
      });
      for (let round = 0; round < 5; round += 1) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        // What a restart does to each connection: FATAL 57P01, then the socket closes.
        await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid()`;
      }
      stop = true;
      await Promise.all(traffic);
      expect([...seen].filter((code) => code !== 'SERVICE_UNAVAILABLE')).toEqual([]);
      await expectRecovered({ email: emails[0]! });
    } finally {
      await admin.end();
    }
  });

  it('answers SERVICE_UNAVAILABLE within 5 s when a row it needs stays locked, and the token works once the lock is gone (PostgreSQL only)', async () => {
    const first = await signUp(t.gql);
    const lock = await holdLock(database.url!, (tx) => tx`select id from refresh_tokens where session_id = ${first.session.id} for update`);
    try {
      // statement_timeout cancels the spend that waits for the lock.
      expect(codes(await timed(() => t.gql(REFRESH, { refreshToken: first.refreshToken })))).toEqual(['SERVICE_UNAVAILABLE']);
      await lock.release();
      expect(codes(await t.gql(REFRESH, { refreshToken: first.refreshToken }))).toEqual([]);
    } finally {
      await lock.release();
    }
  });

  it('does not count logins that failed on the database as failed attempts: no lockout once it is back (PostgreSQL only)', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    // The accounts table is unreadable (the throttle's own table is not): each login's lookup times out.
    const lock = await holdLock(database.url!, (tx) => tx`lock table users in access exclusive mode`);
    try {
      // The whole budget at once (in-flight attempts hold their points, so a sixth would be RATE_LIMITED).
      const during = await Promise.all(Array.from({ length: 5 }, () => timed(() => loginAs(email))));
      expect(during.map(codes)).toEqual(Array.from({ length: 5 }, () => ['SERVICE_UNAVAILABLE']));
      await lock.release();
      // Had the five abandoned checks counted, this sixth attempt would be RATE_LIMITED.
      expect(codes(await loginAs(email))).toEqual([]);
    } finally {
      await lock.release();
    }
  });

  it('runs with a statement timeout and an idle-in-transaction timeout on its connections (PostgreSQL only)', async () => {
    const [row] = rowsOf<{ statement: string; idle: string }>(
      await t.app.database.db.execute(
        sql`select current_setting('statement_timeout') as statement, current_setting('idle_in_transaction_session_timeout') as idle`,
      ),
    );
    expect(row).toEqual({ statement: '3s', idle: '10s' });
  });
});
