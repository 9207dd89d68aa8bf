import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.js';
import { AUTH_FIELDS, login, PASSWORD, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { TRUST_PROXY: 'true' } });
});
afterAll(() => t.close());

const SIGN_UP = `mutation ($email: String!, $password: String!) { signUp(email: $email, password: $password) { ${AUTH_FIELDS} } }`;
const LOGIN = `mutation ($email: String!, $password: String!, $deviceName: String) {
  login(email: $email, password: $password, deviceName: $deviceName) { ${AUTH_FIELDS} } }`;

describe('signUp', () => {
  it('stores the email normalised and refuses a second account for it with EMAIL_TAKEN', async () => {
    const email = uniqueEmail();
    const first = await signUp(t.gql, { email: `  ${email.toUpperCase()} ` });
    expect(first.user.email).toBe(email);
    const again = await t.gql(SIGN_UP, { email, password: PASSWORD });
    expect(codes(again)).toEqual(['EMAIL_TAKEN']);
  });

  it('answers BAD_USER_INPUT naming the field for an invalid email', async () => {
    for (const email of ['not-an-email', '', '@example.com', `${'a'.repeat(250)}@example.com`, 'a\u0000b@example.com']) {
      const result = await t.gql(SIGN_UP, { email, password: PASSWORD });
      expect(codes(result)).toEqual(['BAD_USER_INPUT']);
      expect(result.errors![0]!.extensions!.field).toBe('email');
    }
  });

  it('answers BAD_USER_INPUT naming the field for a password shorter than 8 or longer than 256 characters', async () => {
    for (const password of ['short', 'x'.repeat(7), 'x'.repeat(257)]) {
      const result = await t.gql(SIGN_UP, { email: uniqueEmail(), password });
      expect(codes(result)).toEqual(['BAD_USER_INPUT']);
      expect(result.errors![0]!.extensions!.field).toBe('password');
    }
    await signUp(t.gql, { password: 'x'.repeat(256) });
    await signUp(t.gql, { password: '8 chars!' });
  });

  it('counts password length in characters after NFKC, not in bytes', async () => {
    // Eight emoji: 8 characters, 32 bytes, 16 UTF-16 units.
    await signUp(t.gql, { password: '🌊'.repeat(8) });
    const tooShort = await t.gql(SIGN_UP, { email: uniqueEmail(), password: '🌊'.repeat(7) });
    expect(codes(tooShort)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('login', () => {
  it('gives the same INVALID_CREDENTIALS for an unknown email and for a wrong password', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const wrongPassword = await t.gql(LOGIN, { email, password: 'wrong password' });
    const unknownEmail = await t.gql(LOGIN, { email: uniqueEmail(), password: 'wrong password' });
    expect(codes(wrongPassword)).toEqual(['INVALID_CREDENTIALS']);
    expect(codes(unknownEmail)).toEqual(['INVALID_CREDENTIALS']);
    expect(wrongPassword.errors![0]!.message).toBe(unknownEmail.errors![0]!.message);
  });

  it('starts a new session with a new id on every login (no fixation)', async () => {
    const email = uniqueEmail();
    const first = await signUp(t.gql, { email });
    const second = await login(t.gql, { email });
    const third = await login(t.gql, { email: email.toUpperCase() });
    expect(new Set([first.session.id, second.session.id, third.session.id]).size).toBe(3);
  });

  it('records device name, user agent and IP at login, and updates them on refresh', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const headers = { 'user-agent': 'Firefox/1', 'x-forwarded-for': '203.0.113.9, 198.51.100.7' };
    const loggedIn = await t.gql(LOGIN, { email, password: PASSWORD, deviceName: 'desk' }, { headers });
    const session = loggedIn.data!.login.session;
    expect(session).toMatchObject({ deviceName: 'desk', userAgent: 'Firefox/1', ip: '198.51.100.7', current: true });

    const refreshed = await t.gql(
      `mutation ($r: String) { refresh(refreshToken: $r) { session { userAgent ip deviceName } } }`,
      { r: loggedIn.data!.login.refreshToken },
      { headers: { 'user-agent': 'Firefox/2', 'x-forwarded-for': '192.0.2.4' } },
    );
    expect(refreshed.data!.refresh.session).toEqual({ userAgent: 'Firefox/2', ip: '192.0.2.4', deviceName: 'desk' });
  });

  it('answers BAD_USER_INPUT for a device name over 100 characters', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const result = await t.gql(LOGIN, { email, password: PASSWORD, deviceName: 'd'.repeat(101) });
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors![0]!.extensions!.field).toBe('deviceName');
  });

  it('reports token and session lifetimes from the configuration', async () => {
    const payload = await signUp(t.gql);
    const now = t.clock().getTime();
    expect(new Date(payload.accessTokenExpiresAt).getTime() - now).toBeLessThanOrEqual(900_000);
    expect(new Date(payload.accessTokenExpiresAt).getTime() - now).toBeGreaterThan(898_000);
    // Idle timeout (7 days) comes before the absolute end (30 days).
    expect(new Date(payload.refreshTokenExpiresAt).getTime() - now).toBe(604_800_000);
    expect(payload.session.expiresAt).toBe(payload.refreshTokenExpiresAt);
  });
});
