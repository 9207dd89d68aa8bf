import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { refuseInserts } from './helpers/faults.js';
import { login, LOGIN, PASSWORD, REFRESH, refresh, SIGN_UP, signUp, uniqueEmail, type Payload } from './helpers/auth-flows.js';
import { codes, type GqlOptions } from './helpers/gql.js';

const t = useTestApp();
/** The same database behind a proxy: TRUST_PROXY set, so X-Forwarded-For is believed. */
const proxied = useTestApp({ env: { TRUST_PROXY: 'true' }, beside: t });

const seconds = (iso: string) => new Date(iso).getTime() / 1000;
const now = () => t.clock().getTime() / 1000;

describe('signUp', () => {
  it('creates the account, starts a session and answers me with it', async () => {
    const email = uniqueEmail();
    const payload = await signUp(t.gql, { email, deviceName: 'laptop' });
    expect(payload.user).toEqual({ id: expect.any(String), email, createdAt: t.clock().toISOString() });
    expect(payload.session).toMatchObject({ current: true, deviceName: 'laptop' });
    expect(payload.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const me = await t.gql('{ me { id email createdAt } }', {}, { token: payload.accessToken });
    expect(me.errors).toBeUndefined();
    expect(me.data!.me).toEqual(payload.user);
  });

  it('stores the email trimmed and in lower case', async () => {
    const email = uniqueEmail();
    const payload = await signUp(t.gql, { email: `  ${email.toUpperCase()} ` });
    expect(payload.user.email).toBe(email);
    const loggedIn = await t.gql(LOGIN, { email, password: PASSWORD });
    expect(codes(loggedIn)).toEqual([]);
    expect(loggedIn.data!['login'].user.id).toBe(payload.user.id);
  });

  it('answers EMAIL_TAKEN for an email that has an account, however it is typed', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    for (const again of [email, email.toUpperCase()]) {
      const result = await t.gql(SIGN_UP, { email: again, password: 'another password' });
      expect(codes(result)).toEqual(['EMAIL_TAKEN']);
      expect(result.data).toBeNull();
    }
  });

  it.each([
    ['an invalid email', { email: 'not-an-email' }, 'email'],
    ['an empty email', { email: '' }, 'email'],
    ['a password of 7 characters', { password: '1234567' }, 'password'],
    ['a password of 257 characters', { password: 'p'.repeat(257) }, 'password'],
    ['a device name of 101 characters', { deviceName: 'd'.repeat(101) }, 'deviceName'],
  ])('answers BAD_USER_INPUT naming the argument for %s', async (_name, input, field) => {
    const result = await t.gql(SIGN_UP, { email: uniqueEmail(), password: PASSWORD, ...input });
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors![0]!.extensions!.field).toBe(field);
  });

  it('answers BAD_USER_INPUT for a missing or mistyped variable', async () => {
    const missing = await t.gql(SIGN_UP, { email: uniqueEmail() });
    expect(codes(missing)).toEqual(['BAD_USER_INPUT']);
    const mistyped = await t.gql(SIGN_UP, { email: uniqueEmail(), password: 12345678 });
    expect(codes(mistyped)).toEqual(['BAD_USER_INPUT']);
  });

  it('accepts passwords of exactly 8 and exactly 256 characters, counted in code points', async () => {
    for (const password of ['k7#Lq2!z', 'p'.repeat(256)]) {
      expect(codes(await t.gql(SIGN_UP, { email: uniqueEmail(), password }))).toEqual([]);
    }
    // Eight emoji are sixteen UTF-16 units but eight characters.
    const email = uniqueEmail();
    expect(codes(await t.gql(SIGN_UP, { email, password: '🔑'.repeat(8) }))).toEqual([]);
    expect(codes(await t.gql(LOGIN, { email, password: '🔑'.repeat(8) }))).toEqual([]);
  });
});

describe('signUp that fails midway', () => {
  it('leaves no account behind: the same email can sign up once the fault is gone', async () => {
    const email = uniqueEmail();
    // A fault after the account row is written: the session cannot be inserted.
    const removeFault = await refuseInserts(t.app.database.db, 'sessions');
    try {
      expect(codes(await t.gql(SIGN_UP, { email, password: PASSWORD }))).toEqual(['INTERNAL_SERVER_ERROR']);
    } finally {
      await removeFault();
    }
    expect(codes(await t.gql(LOGIN, { email, password: PASSWORD }))).toEqual(['INVALID_CREDENTIALS']);
    const payload = await signUp(t.gql, { email });
    expect(payload.user.email).toBe(email);
  });
});

describe('login', () => {
  it('gives the same INVALID_CREDENTIALS for an unknown email and a wrong password', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const unknown = await t.gql(LOGIN, { email: uniqueEmail(), password: PASSWORD });
    const wrong = await t.gql(LOGIN, { email, password: 'wrong password' });
    expect(codes(unknown)).toEqual(['INVALID_CREDENTIALS']);
    expect(wrong.errors).toEqual(unknown.errors);
    expect(wrong.status).toBe(unknown.status);
  });

  it('answers BAD_USER_INPUT naming the argument for an invalid email or an overlong password', async () => {
    const badEmail = await t.gql(LOGIN, { email: 'nope', password: PASSWORD });
    expect(codes(badEmail)).toEqual(['BAD_USER_INPUT']);
    expect(badEmail.errors![0]!.extensions!.field).toBe('email');

    const longPassword = await t.gql(LOGIN, { email: uniqueEmail(), password: 'p'.repeat(257) });
    expect(codes(longPassword)).toEqual(['BAD_USER_INPUT']);
    expect(longPassword.errors![0]!.extensions!.field).toBe('password');
  });

  it('starts a new session with a new id at every login', async () => {
    const email = uniqueEmail();
    const first = await signUp(t.gql, { email });
    const second = await login(t.gql, { email });
    const third = await login(t.gql, { email });
    const ids = new Set([first.session.id, second.session.id, third.session.id]);
    expect(ids.size).toBe(3);
    expect(new Set([first.refreshToken, second.refreshToken, third.refreshToken]).size).toBe(3);
  });

  it('gives token lifetimes that follow the configuration', async () => {
    const payload = await signUp(t.gql);
    // ACCESS_TOKEN_TTL 900 s; the session ends at the idle timeout (7 days), before the 30-day absolute end.
    expect(seconds(payload.accessTokenExpiresAt)).toBe(Math.floor(now()) + 900);
    expect(seconds(payload.refreshTokenExpiresAt)).toBe(now() + 604_800);
    expect(payload.session.expiresAt).toBe(payload.refreshTokenExpiresAt);
    expect(payload.session.lastUsedAt).toBe(t.clock().toISOString());
  });
});

describe('client details', () => {
  const client = (userAgent: string, forwardedFor: string): GqlOptions => ({
    headers: { 'user-agent': userAgent, 'x-forwarded-for': forwardedFor },
  });

  it('records the user agent and, behind a trusted proxy, the last X-Forwarded-For hop at login', async () => {
    const email = uniqueEmail();
    await signUp(proxied.gql, { email });
    const result = await proxied.gql<{ login: Payload }>(
      LOGIN,
      { email, password: PASSWORD },
      client('Firefox/140', '203.0.113.9, 198.51.100.7'),
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.login.session).toMatchObject({ userAgent: 'Firefox/140', ip: '198.51.100.7' });
  });

  it('updates the user agent and ip at refresh', async () => {
    const email = uniqueEmail();
    await signUp(proxied.gql, { email });
    const first = await proxied.gql<{ login: Payload }>(LOGIN, { email, password: PASSWORD }, client('Old/1', '192.0.2.1'));
    t.clock.advance(1);
    const refreshed = await proxied.gql<{ refresh: Payload }>(
      REFRESH,
      { refreshToken: first.data!.login.refreshToken },
      client('New/2', '192.0.2.2'),
    );
    expect(refreshed.errors).toBeUndefined();
    expect(refreshed.data!.refresh.session).toMatchObject({ userAgent: 'New/2', ip: '192.0.2.2' });

    const listed = await proxied.gql(
      '{ mySessions { id userAgent ip } }',
      {},
      { token: refreshed.data!.refresh.accessToken },
    );
    // The refreshed session comes first; the sign-up's session, also listed, keeps its own details.
    expect(listed.data!.mySessions[0]).toEqual({ id: first.data!.login.session.id, userAgent: 'New/2', ip: '192.0.2.2' });
  });

  it('ignores X-Forwarded-For unless TRUST_PROXY is set', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const result = await t.gql<{ login: { session: { userAgent: string; ip: string | null } } }>(
      LOGIN,
      { email, password: PASSWORD },
      client('Curl/8', '203.0.113.50'),
    );
    // yoga.fetch has no socket, so without a trusted proxy there is no address at all.
    expect(result.data!.login.session).toMatchObject({ userAgent: 'Curl/8', ip: null });
  });
});

describe('mySessions', () => {
  it('lists live sessions, most recently used first, marking only the caller as current', async () => {
    const email = uniqueEmail();
    const laptop = await signUp(t.gql, { email, deviceName: 'laptop' });
    t.clock.advance(5);
    const phone = await login(t.gql, { email, deviceName: 'phone' });
    t.clock.advance(5);
    const tablet = await login(t.gql, { email, deviceName: 'tablet' });
    t.clock.advance(5);
    // Using the laptop moves it to the front.
    const laptopAgain = await refresh(t.gql, laptop.refreshToken);

    const query = '{ mySessions { id current deviceName } }';
    const fromPhone = await t.gql(query, {}, { token: phone.accessToken });
    expect(fromPhone.data!.mySessions).toEqual([
      { id: laptop.session.id, current: false, deviceName: 'laptop' },
      { id: tablet.session.id, current: false, deviceName: 'tablet' },
      { id: phone.session.id, current: true, deviceName: 'phone' },
    ]);
    const fromLaptop = await t.gql(query, {}, { token: laptopAgain.accessToken });
    expect(fromLaptop.data!.mySessions.map((s: { current: boolean }) => s.current)).toEqual([true, false, false]);
  });

  it("never shows another user's sessions", async () => {
    const mine = await signUp(t.gql);
    await signUp(t.gql);
    const listed = await t.gql('{ mySessions { id } }', {}, { token: mine.accessToken });
    expect(listed.data!.mySessions).toEqual([{ id: mine.session.id }]);
  });

  it('answers UNAUTHENTICATED without an access token', async () => {
    const result = await t.gql('{ mySessions { id } }');
    expect(codes(result)).toEqual(['UNAUTHENTICATED']);
  });
});
