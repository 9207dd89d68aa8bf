import { and, eq, isNull } from 'drizzle-orm';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { sessions } from '../src/db/schema.js';
import { useStartedApp, withTestApp } from './helpers/app.js';
import { AUTH_FIELDS, login, PASSWORD, REFRESH, refresh, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { backend } from './helpers/database.js';
import { codes } from './helpers/gql.js';
import { eventually } from './helpers/eventually.js';
import { collectRevocations, connected, wsClient } from './helpers/ws.js';

const MAX = 3;

// A login attempt counts against the account's budget while it is in flight (so parallel guesses
// cannot outrun the limit); eight concurrent logins of one account need a larger budget here.
const t = useStartedApp({ env: { MAX_SESSIONS_PER_USER: String(MAX), LOGIN_MAX_FAILURES_PER_ACCOUNT: '50' } });

const me = (token: string) => t.gql('{ me { id } }', {}, { token });
const openSessionsOf = (userId: string) =>
  t.app.database.db
    .select({ id: sessions.id })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), isNull(sessions.endedAt)));

describe('MAX_SESSIONS_PER_USER', () => {
  it('ends the least recently used session (SESSION_LIMIT) when a login goes beyond the limit', async () => {
    const email = uniqueEmail();
    const first = await signUp(t.gql, { email, deviceName: 'first' });
    t.clock.advance(60);
    const second = await login(t.gql, { email, deviceName: 'second' });
    t.clock.advance(60);
    const third = await login(t.gql, { email, deviceName: 'third' });
    t.clock.advance(60);
    // The oldest login is used again: now the second is the least recently used.
    const firstAgain = await refresh(t.gql, first.refreshToken);

    const watcher = wsClient(t.url, { token: third.accessToken });
    const feed = collectRevocations(watcher);
    await connected(watcher);
    await eventually(() => t.app.revocationFeed.subscriberCount > 0);

    t.clock.advance(60);
    const fourth = await login(t.gql, { email, deviceName: 'fourth' });

    await feed.next(1);
    expect(feed.events).toEqual([
      { sessionId: second.session.id, reason: 'SESSION_LIMIT', revokedAt: expect.any(String), current: false },
    ]);
    await watcher.dispose();

    expect(codes(await me(second.accessToken))).toEqual(['SESSION_REVOKED']);
    expect(codes(await t.gql(REFRESH, { refreshToken: second.refreshToken }))).toEqual(['INVALID_REFRESH_TOKEN']);
    for (const alive of [firstAgain, third, fourth]) expect(codes(await me(alive.accessToken))).toEqual([]);

    const listed = await t.gql('{ mySessions { deviceName } }', {}, { token: fourth.accessToken });
    expect(listed.data!.mySessions.map((s: { deviceName: string }) => s.deviceName)).toEqual([
      'fourth',
      'first',
      'third',
    ]);
  });

  it('counts the session a signUp starts, and only live sessions', async () => {
    const email = uniqueEmail();
    const signedUp = await signUp(t.gql, { email });
    t.clock.advance(1);
    const loggedIn = [await login(t.gql, { email }), await login(t.gql, { email })];
    // One ends by itself: there is room for one more without ending anything.
    await t.gql('mutation { logout }', {}, { token: loggedIn[0]!.accessToken });
    t.clock.advance(1);
    await login(t.gql, { email });
    expect(codes(await me(signedUp.accessToken))).toEqual([]);
    expect(await openSessionsOf(signedUp.user.id)).toHaveLength(MAX);

    t.clock.advance(1);
    await login(t.gql, { email });
    expect(codes(await me(signedUp.accessToken))).toEqual(['SESSION_REVOKED']);
    expect(await openSessionsOf(signedUp.user.id)).toHaveLength(MAX);
  });

  it('holds under concurrent logins of one user: never more live sessions than the limit', async () => {
    const email = uniqueEmail();
    const { user } = await signUp(t.gql, { email });
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        t.gql(`mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { ${AUTH_FIELDS} } }`, {
          email,
          password: PASSWORD,
        }),
      ),
    );
    expect(results.flatMap(codes)).toEqual([]);
    const open = await openSessionsOf(user.id);
    expect(open).toHaveLength(MAX);
    // Every login's own session is among the newest: a login never ends itself.
    const liveTokens = [];
    for (const result of results) {
      if (codes(await me(result.data!.login.accessToken)).length === 0) liveTokens.push(result);
    }
    expect(liveTokens).toHaveLength(MAX);
  });

  it('with a limit of 1, each login ends the previous session', async () => {
    await withTestApp({ env: { MAX_SESSIONS_PER_USER: '1' } }, async (one) => {
      const email = uniqueEmail();
      const a = await signUp(one.gql, { email });
      const b = await login(one.gql, { email });
      expect(codes(await one.gql('{ me { id } }', {}, { token: a.accessToken }))).toEqual(['SESSION_REVOKED']);
      expect(codes(await one.gql('{ me { id } }', {}, { token: b.accessToken }))).toEqual([]);
    });
  });

  it('refuses a MAX_SESSIONS_PER_USER that is not a whole number of at least 1', async () => {
    const { loadConfig } = await import('../src/config.js');
    expect(() => loadConfig({ MAX_SESSIONS_PER_USER: '0' })).toThrow(/MAX_SESSIONS_PER_USER: must be at least 1/);
    expect(() => loadConfig({ MAX_SESSIONS_PER_USER: 'ten' })).toThrow(/MAX_SESSIONS_PER_USER: must be a whole number/);
    expect(loadConfig({}).maxSessionsPerUser).toBe(10);
  });
});

describe.skipIf(backend !== 'postgres')("a login and the lock on the user's row (PostgreSQL only)", () => {
  it('counts the sessions that the holder of the lock committed while the login waited: the limit holds', async () => {
    const email = uniqueEmail();
    const { user } = await signUp(t.gql, { email });
    // Two connections: one holds the transaction, the other watches for the login's wait.
    const other = postgres(t.database.url!, { max: 2, onnotice: () => {} });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    try {
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      // Another transaction holds the user's row (as a login or a revocation does) and brings the user
      // to the limit; it commits only once the login below waits for the row.
      const holder = other.begin(async (tx) => {
        await tx`select id from users where id = ${user.id} for no key update`;
        for (let i = 1; i < MAX; i += 1) {
          await tx`insert into sessions (id, user_id, created_at, last_used_at, expires_at)
            values (${crypto.randomUUID()}, ${user.id}, ${t.clock()}, ${t.clock()}, ${new Date(t.clock().getTime() + 86_400_000)})`;
        }
        locked();
        await released;
      });
      await isLocked;
      const pending = login(t.gql, { email });
      await eventually(async () => {
        const waiting = await other`select 1 from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query like '%create_session_within_limit%'`;
        return waiting.length > 0;
      });
      release();
      await holder;
      const { accessToken } = await pending;
      // A snapshot taken before the lock would have seen one other session, and ended none.
      expect(await openSessionsOf(user.id)).toHaveLength(MAX);
      expect(codes(await me(accessToken))).toEqual([]);
    } finally {
      release();
      await other.end();
    }
  });
});
