import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/auth/crypto.js';
import { recordAuthEvent } from '../src/db/auth-events.js';
import { authEvents } from '../src/db/schema.js';
import { useTestApp } from './helpers/app.js';
import { AUTH_FIELDS, login, PASSWORD, REFRESH, refresh, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { sessionWritesUnavailable } from './helpers/faults.js';
import { codes } from './helpers/gql.js';

const t = useTestApp({ env: { TRUST_PROXY: 'true' } });

const EVENTS = `query ($first: Int) { myAuthEvents(first: $first) { id type sessionId reason ip userAgent occurredAt } }`;
const from = (ip: string, userAgent = 'test-agent/1.0') => ({ headers: { 'x-forwarded-for': ip, 'user-agent': userAgent } });

interface EventView {
  type: string;
  sessionId: string | null;
  reason: string | null;
  ip: string | null;
  userAgent: string | null;
}

async function eventsOf(token: string, first?: number): Promise<EventView[]> {
  const result = await t.gql(EVENTS, first === undefined ? {} : { first }, { token });
  expect(result.errors).toBeUndefined();
  return result.data!.myAuthEvents;
}

describe('myAuthEvents', () => {
  it("lists the caller's sign-up, logins, failures, refreshes, reuse and revocations, newest first, with IP and user agent", async () => {
    const email = uniqueEmail();
    const laptop = await t.gql(
      `mutation ($e: String!, $p: String!) { signUp(email: $e, password: $p) { ${AUTH_FIELDS} } }`,
      { e: email, p: PASSWORD },
      from('203.0.113.1', 'laptop-browser'),
    );
    const laptopTokens = laptop.data!.signUp;
    t.clock.advance(1);
    const failed = await t.gql(
      'mutation ($e: String!) { login(email: $e, password: "wrong password") { accessToken } }',
      { e: email },
      from('198.51.100.7', 'attacker'),
    );
    expect(codes(failed)).toEqual(['INVALID_CREDENTIALS']);
    t.clock.advance(1);
    const phone = (
      await t.gql(
        `mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { ${AUTH_FIELDS} } }`,
        { e: email, p: PASSWORD },
        from('203.0.113.2', 'phone-app'),
      )
    ).data!.login;
    t.clock.advance(1);
    const refreshed = (await t.gql(REFRESH, { refreshToken: phone.refreshToken }, from('203.0.113.2', 'phone-app')))
      .data!.refresh;
    t.clock.advance(60);
    // The spent token again, after the grace window: theft; the phone's session ends.
    const reused = await t.gql(REFRESH, { refreshToken: phone.refreshToken }, from('198.51.100.7', 'attacker'));
    expect(codes(reused)).toEqual(['REFRESH_TOKEN_REUSED']);
    t.clock.advance(1);
    await t.gql('mutation { logout }', {}, { token: laptopTokens.accessToken, ...from('203.0.113.1', 'laptop-browser') });

    // A new login to read them (the laptop's session has ended).
    t.clock.advance(1);
    const reader = await login(t.gql, { email });
    const events = await eventsOf(reader.accessToken);
    expect(events.map(({ type, sessionId, reason, ip, userAgent }) => ({ type, sessionId, reason, ip, userAgent }))).toEqual([
      { type: 'LOGIN_SUCCEEDED', sessionId: reader.session.id, reason: null, ip: null, userAgent: null },
      { type: 'SESSION_REVOKED', sessionId: laptopTokens.session.id, reason: 'LOGOUT', ip: '203.0.113.1', userAgent: 'laptop-browser' },
      { type: 'SESSION_REVOKED', sessionId: phone.session.id, reason: 'REFRESH_TOKEN_REUSE', ip: '198.51.100.7', userAgent: 'attacker' },
      { type: 'REFRESH_TOKEN_REUSED', sessionId: phone.session.id, reason: null, ip: '198.51.100.7', userAgent: 'attacker' },
      { type: 'REFRESHED', sessionId: refreshed.session.id, reason: null, ip: '203.0.113.2', userAgent: 'phone-app' },
      { type: 'LOGIN_SUCCEEDED', sessionId: phone.session.id, reason: null, ip: '203.0.113.2', userAgent: 'phone-app' },
      { type: 'LOGIN_FAILED', sessionId: null, reason: null, ip: '198.51.100.7', userAgent: 'attacker' },
      { type: 'SIGNED_UP', sessionId: laptopTokens.session.id, reason: null, ip: '203.0.113.1', userAgent: 'laptop-browser' },
    ]);
  });

  it('records REFRESH_TOKEN_REUSED only with the end of the session: a reuse whose end fails leaves no event', async () => {
    const email = uniqueEmail();
    const first = await signUp(t.gql, { email });
    await refresh(t.gql, first.refreshToken);
    t.clock.advance(60);
    const restore = await sessionWritesUnavailable(t.app.database.db);
    try {
      expect(codes(await t.gql(REFRESH, { refreshToken: first.refreshToken }))).toEqual(['SERVICE_UNAVAILABLE']);
    } finally {
      await restore();
    }
    const reader = await login(t.gql, { email });
    expect((await eventsOf(reader.accessToken)).map((event) => event.type)).not.toContain('REFRESH_TOKEN_REUSED');

    expect(codes(await t.gql(REFRESH, { refreshToken: first.refreshToken }))).toEqual(['REFRESH_TOKEN_REUSED']);
    const events = (await eventsOf(reader.accessToken)).filter((event) => event.sessionId === first.session.id);
    expect(events.slice(0, 2).map(({ type, reason }) => ({ type, reason }))).toEqual([
      { type: 'SESSION_REVOKED', reason: 'REFRESH_TOKEN_REUSE' },
      { type: 'REFRESH_TOKEN_REUSED', reason: null },
    ]);
  });

  it('records every session that one request ends, each with the client that asked, its user agent kept exactly', async () => {
    const email = uniqueEmail();
    const keeper = await signUp(t.gql, { email });
    const others = [await login(t.gql, { email }), await login(t.gql, { email }), await login(t.gql, { email })];
    // Quotes, commas, braces, backslashes and non-ASCII: what a user agent may hold, stored as sent.
    const agent = 'Mozilla/5.0 (X11; "quoted", {braced}) back\\slash café ✓';
    const ended = await t.gql('mutation { revokeOtherSessions }', {}, { token: keeper.accessToken, ...from('192.0.2.44', agent) });
    expect(ended.data).toEqual({ revokeOtherSessions: 3 });

    const revoked = (await eventsOf(keeper.accessToken)).filter((event) => event.type === 'SESSION_REVOKED');
    expect(revoked.map((event) => event.sessionId).sort()).toEqual(others.map((other) => other.session.id).sort());
    for (const event of revoked) {
      expect(event).toMatchObject({ reason: 'OTHER_SESSIONS_REVOKED', ip: '192.0.2.44', userAgent: agent });
    }
  });

  it('records revocations by the user and by the server with their reasons', async () => {
    const email = uniqueEmail();
    const a = await signUp(t.gql, { email });
    const b = await login(t.gql, { email });
    const c = await login(t.gql, { email });
    await t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: b.session.id }, { token: a.accessToken });
    await t.gql('mutation { revokeOtherSessions }', {}, { token: a.accessToken });
    const revoked = (await eventsOf(a.accessToken)).filter((event) => event.type === 'SESSION_REVOKED');
    expect(revoked.map(({ sessionId, reason }) => ({ sessionId, reason }))).toEqual([
      { sessionId: c.session.id, reason: 'OTHER_SESSIONS_REVOKED' },
      { sessionId: b.session.id, reason: 'REVOKED_BY_USER' },
    ]);

    t.clock.advance(7 * 86_400 + 1);
    await t.app.sweepExpiredSessions();
    const fresh = await login(t.gql, { email });
    const expired = (await eventsOf(fresh.accessToken)).find((event) => event.reason === 'EXPIRED');
    expect(expired).toMatchObject({ type: 'SESSION_REVOKED', sessionId: a.session.id, ip: null, userAgent: null });
  });

  it("shows only the caller's own events, and records a failed login for an unknown email without any user or email", async () => {
    const mine = await signUp(t.gql);
    const theirs = await signUp(t.gql);
    const unknownEmail = uniqueEmail('nobody');
    const failed = await t.gql('mutation ($e: String!) { login(email: $e, password: "whatever pass") { accessToken } }', {
      e: unknownEmail,
    });
    expect(codes(failed)).toEqual(['INVALID_CREDENTIALS']);
    const events = await eventsOf(mine.accessToken);
    expect(events.map((event) => event.sessionId)).toEqual([mine.session.id]);
    expect(events.map((event) => event.sessionId)).not.toContain(theirs.session.id);

    const anonymous = await t.app.database.db.select().from(authEvents).where(eq(authEvents.type, 'LOGIN_FAILED'));
    expect(anonymous.some((row) => row.userId === null)).toBe(true);
    expect(JSON.stringify(anonymous)).not.toContain(unknownEmail);
  });

  it('takes first from 1 to 100 (default 20), else BAD_USER_INPUT on field first', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    let token = user.refreshToken;
    for (let i = 0; i < 25; i += 1) token = (await refresh(t.gql, token)).refreshToken;
    expect(await eventsOf(user.accessToken)).toHaveLength(20);
    expect(await eventsOf(user.accessToken, 1)).toHaveLength(1);
    expect(await eventsOf(user.accessToken, 100)).toHaveLength(26);
    for (const first of [0, -1, 101, 2 ** 31 - 1]) {
      const result = await t.gql(EVENTS, { first }, { token: user.accessToken });
      expect(codes(result), String(first)).toEqual(['BAD_USER_INPUT']);
      expect(result.errors![0]!.extensions!['field']).toBe('first');
      expect(result.data).toBeNull();
    }
  });

  it('requires a signed-in caller', async () => {
    expect(codes(await t.gql(EVENTS))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql(EVENTS, {}, { token: 'not.a.jwt' }))).toEqual(['INVALID_TOKEN']);
  });
});

describe('the auth_events table', () => {
  it('holds no password, token or token hash', async () => {
    const email = uniqueEmail();
    const password = 'a secret never stored 1';
    const first = await signUp(t.gql, { email, password });
    await t.gql('mutation ($e: String!) { login(email: $e, password: "wrong password 2") { accessToken } }', { e: email });
    const second = await refresh(t.gql, first.refreshToken);
    const rows = JSON.stringify(await t.app.database.db.select().from(authEvents));
    for (const secret of [
      password,
      'wrong password 2',
      first.refreshToken,
      second.refreshToken,
      sha256Hex(first.refreshToken),
      first.accessToken,
      first.accessToken.split('.')[2]!,
    ]) {
      expect(rows).not.toContain(secret);
    }
  });

  it('is append-only in the database: UPDATE, DELETE and TRUNCATE are refused', async () => {
    const { db } = t.app.database;
    const user = await signUp(t.gql);
    await expect(db.execute(sql`update auth_events set ip = '10.0.0.1' where user_id = ${user.user.id}`)).rejects.toThrow();
    await expect(db.execute(sql`delete from auth_events where user_id = ${user.user.id}`)).rejects.toThrow();
    await expect(db.execute(sql`truncate auth_events`)).rejects.toThrow();
    await recordAuthEvent(db, { type: 'PASSWORD_CHANGED', userId: user.user.id, sessionId: user.session.id, at: t.clock() });
    const types = (await eventsOf(user.accessToken)).map((event) => event.type);
    expect(types).toEqual(['PASSWORD_CHANGED', 'SIGNED_UP']);
  });
});
