import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { login, PASSWORD, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import {
  CLEARED_COOKIE,
  codesOf,
  COOKIE_AUTH_FIELDS,
  COOKIE_REFRESH,
  expectCleared,
  expectCookieToken,
  PAGE_ENV,
  pageClient,
} from './helpers/page-post.js';

/** The refresh token in an HttpOnly cookie (TokenDelivery COOKIE), over HTTP as a browser page sends it. */

const t = useTestApp({ env: PAGE_ENV });
const { post, signUpWithCookie, loginWithCookie } = pageClient(t);

describe('TokenDelivery COOKIE', () => {
  it('sets the refresh token as a __Host- cookie (HttpOnly, Secure, SameSite=Strict, Path=/) and returns refreshToken null', async () => {
    const email = uniqueEmail('delivery');
    const signUp = await post(
      `mutation ($email: String!) { signUp(email: $email, password: "${PASSWORD}", delivery: COOKIE) { ${COOKIE_AUTH_FIELDS} } }`,
      { variables: { email } },
    );
    expect(signUp.body.data!['signUp'].refreshToken).toBeNull();
    expectCookieToken(signUp, 604_800);

    const login = await post(
      `mutation ($email: String!) { login(email: $email, password: "${PASSWORD}", delivery: COOKIE) { ${COOKIE_AUTH_FIELDS} } }`,
      { variables: { email } },
    );
    expect(login.body.data!['login'].refreshToken).toBeNull();
    expectCookieToken(login, 604_800);
  });

  it('sets no cookie with the default delivery, BODY', async () => {
    const answer = await post(`mutation { signUp(email: "${uniqueEmail('body')}", password: "${PASSWORD}") { ${COOKIE_AUTH_FIELDS} } }`);
    expect(answer.body.data!['signUp'].refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(answer.cookies).toEqual([]);
  });

  it('gives the cookie a Max-Age up to the session end: the idle end, then the absolute end once it is nearer', async () => {
    let { cookie } = await signUpWithCookie();
    for (let refreshes = 0; refreshes < 3; refreshes++) {
      t.clock.advance(6 * 86_400);
      cookie = expectCookieToken(await post(COOKIE_REFRESH, { cookie }), 604_800);
    }
    // Day 24 of the absolute 30: six days are left, less than the idle timeout's seven.
    t.clock.advance(6 * 86_400);
    expectCookieToken(await post(COOKIE_REFRESH, { cookie }), 6 * 86_400);
  });

  it('refresh() without an argument spends the cookie and sets its successor', async () => {
    const { cookie } = await signUpWithCookie();
    t.clock.advance(60);
    const answer = await post(COOKIE_REFRESH, { cookie });
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data!['refresh'].refreshToken).toBeNull();
    const successor = expectCookieToken(answer, 604_800);
    expect(successor).not.toBe(cookie);
    const me = await post('{ me { id } }', { token: answer.body.data!['refresh'].accessToken });
    expect(me.body.errors).toBeUndefined();
    // The successor works in turn.
    t.clock.advance(60);
    expectCookieToken(await post(COOKIE_REFRESH, { cookie: successor }), 604_800);
  });

  it('an argument wins over the cookie, and keeps BODY delivery', async () => {
    const inCookie = await signUpWithCookie();
    const body = await post(`mutation { signUp(email: "${uniqueEmail('both')}", password: "${PASSWORD}") { ${COOKIE_AUTH_FIELDS} } }`);
    const answer = await post(`mutation ($token: String) { refresh(refreshToken: $token) { ${COOKIE_AUTH_FIELDS} } }`, {
      cookie: inCookie.cookie,
      variables: { token: body.body.data!['signUp'].refreshToken },
    });
    expect(answer.body.data!['refresh'].refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(answer.body.data!['refresh'].session.id).toBe(body.body.data!['signUp'].session.id);
    expect(answer.cookies).toEqual([]);
  });

  it('a reused cookie ends the session with REFRESH_TOKEN_REUSED and clears the cookie', async () => {
    const { cookie, accessToken } = await signUpWithCookie();
    await post(COOKIE_REFRESH, { cookie });
    t.clock.advance(11);
    const reused = await post(COOKIE_REFRESH, { cookie });
    expect(codesOf(reused)).toEqual(['REFRESH_TOKEN_REUSED']);
    expectCleared(reused);
    expect(codesOf(await post('{ me { id } }', { token: accessToken }))).toEqual(['SESSION_REVOKED']);
  });

  it('a retry of a refresh whose response was lost sets the same successor in the cookie again', async () => {
    const { cookie } = await signUpWithCookie();
    const successor = expectCookieToken(await post(COOKIE_REFRESH, { cookie }), 604_800);
    t.clock.advance(2);
    const again = await post(COOKIE_REFRESH, { cookie });
    expect(again.body.errors).toBeUndefined();
    // The session was last used at the rotation, two seconds ago: its idle end is that much nearer.
    expect(expectCookieToken(again, 604_798)).toBe(successor);
    expect(codesOf(await post('{ me { id } }', { token: again.body.data!['refresh'].accessToken }))).toEqual([]);
    t.clock.advance(60);
    expectCookieToken(await post(COOKIE_REFRESH, { cookie: successor }), 604_800);
  });

  it('a refresh within the grace window whose successor was already used is REFRESH_TOKEN_ROTATED and leaves the cookie alone', async () => {
    const { cookie } = await signUpWithCookie();
    const successor = expectCookieToken(await post(COOKIE_REFRESH, { cookie }), 604_800);
    expectCookieToken(await post(COOKIE_REFRESH, { cookie: successor }), 604_800);
    const late = await post(COOKIE_REFRESH, { cookie });
    expect(codesOf(late)).toEqual(['REFRESH_TOKEN_ROTATED']);
    expect(late.cookies).toEqual([]);
  });

  it('a refresh of a session that was revoked elsewhere is INVALID_REFRESH_TOKEN and clears the cookie', async () => {
    const browser = await signUpWithCookie();
    const other = await post(
      `mutation ($email: String!) { login(email: $email, password: "${PASSWORD}") { ${COOKIE_AUTH_FIELDS} } }`,
      { variables: { email: browser.email } },
    );
    await post(`mutation { revokeDevice(sessionId: "${browser.sessionId}") }`, { token: other.body.data!['login'].accessToken });
    const answer = await post(COOKIE_REFRESH, { cookie: browser.cookie });
    expect(codesOf(answer)).toEqual(['INVALID_REFRESH_TOKEN']);
    expectCleared(answer);
  });

  it('a refresh past the session end is INVALID_REFRESH_TOKEN and clears the cookie', async () => {
    const { cookie } = await signUpWithCookie();
    t.clock.advance(604_801);
    const answer = await post(COOKIE_REFRESH, { cookie });
    expect(codesOf(answer)).toEqual(['INVALID_REFRESH_TOKEN']);
    expectCleared(answer);
  });

  it('refresh() with neither argument nor cookie is INVALID_REFRESH_TOKEN and sets no cookie', async () => {
    const answer = await post(COOKIE_REFRESH);
    expect(codesOf(answer)).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(answer.cookies).toEqual([]);
  });

  it('logout() without an argument ends the cookie\'s session and clears the cookie', async () => {
    const { cookie, accessToken } = await signUpWithCookie();
    const answer = await post('mutation { logout }', { cookie });
    expect(answer.body.data).toEqual({ logout: true });
    expectCleared(answer);
    expect(codesOf(await post('{ me { id } }', { token: accessToken }))).toEqual(['SESSION_REVOKED']);
    expect(codesOf(await post(COOKIE_REFRESH, { cookie }))).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('logout(refreshToken: "") is logout() without an argument: the cookie\'s session ends with its cookie', async () => {
    const { cookie, accessToken } = await signUpWithCookie();
    const answer = await post('mutation { logout(refreshToken: "") }', { cookie });
    expect(answer.body.data).toEqual({ logout: true });
    expectCleared(answer);
    expect(codesOf(await post('{ me { id } }', { token: accessToken }))).toEqual(['SESSION_REVOKED']);
    expect(codesOf(await post(COOKIE_REFRESH, { cookie }))).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('logout() with the access token also clears the cookie', async () => {
    const { cookie, accessToken } = await signUpWithCookie();
    const answer = await post('mutation { logout }', { cookie, token: accessToken });
    expect(answer.body.data).toEqual({ logout: true });
    expectCleared(answer);
    expect(codesOf(await post(COOKIE_REFRESH, { cookie }))).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('a login over an existing cookie ends the session the replaced cookie belonged to', async () => {
    const first = await signUpWithCookie();
    const answer = await post(
      `mutation ($email: String!) { login(email: $email, password: "${PASSWORD}", delivery: COOKIE) { ${COOKIE_AUTH_FIELDS} } }`,
      { cookie: first.cookie, variables: { email: first.email } },
    );
    expect(answer.body.errors).toBeUndefined();
    const replacement = expectCookieToken(answer, 604_800);
    // Nobody holds the replaced cookie any more: its session must not live on unseen.
    expect(codesOf(await post('{ me { id } }', { token: first.accessToken }))).toEqual(['SESSION_REVOKED']);
    expect(codesOf(await post(COOKIE_REFRESH, { cookie: first.cookie }))).toEqual(['INVALID_REFRESH_TOKEN']);
    const sessions = await post('{ mySessions { id } }', { token: answer.body.data!['login'].accessToken });
    expect(sessions.body.data!['mySessions']).toEqual([{ id: answer.body.data!['login'].session.id }]);
    t.clock.advance(60);
    expectCookieToken(await post(COOKIE_REFRESH, { cookie: replacement }), 604_800);
  });

  it('a login with BODY delivery leaves the cookie and its session alone', async () => {
    const first = await signUpWithCookie();
    const answer = await post(
      `mutation ($email: String!) { login(email: $email, password: "${PASSWORD}") { ${COOKIE_AUTH_FIELDS} } }`,
      { cookie: first.cookie, variables: { email: first.email } },
    );
    expect(answer.body.errors).toBeUndefined();
    expect(answer.cookies).toEqual([]);
    expect(codesOf(await post('{ me { id } }', { token: first.accessToken }))).toEqual([]);
  });

  it('changePassword with COOKIE delivery replaces the cookie with the successor', async () => {
    const { accessToken } = await signUpWithCookie();
    const answer = await post(
      `mutation { changePassword(currentPassword: "${PASSWORD}", newPassword: "another horse battery", delivery: COOKIE) { ${COOKIE_AUTH_FIELDS} } }`,
      { token: accessToken },
    );
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data!['changePassword'].refreshToken).toBeNull();
    const successor = expectCookieToken(answer, 604_800);
    t.clock.advance(60);
    expectCookieToken(await post(COOKIE_REFRESH, { cookie: successor }), 604_800);
  });
});

describe('logout in a browser whose access token and cookie belong to different sessions', () => {
  it('ends the session of the cookie it expires too, rather than leaving it live without a holder', async () => {
    // Two tabs: the first logged in (session A), then the second logged in again, which replaced the
    // shared cookie with session B's. The first tab still holds A's access token and logs out.
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const tabA = await loginWithCookie(email);
    const tabB = await loginWithCookie(email);

    const answer = await post('mutation { logout }', { cookie: tabB.cookie, token: tabA.accessToken });
    expect(answer.body).toEqual({ data: { logout: true } });
    expect(answer.cookies).toEqual([CLEARED_COOKIE]);

    // The browser no longer holds B's refresh token: B must not live on unseen in the device list.
    for (const tab of [tabA, tabB]) {
      expect(codes(await t.gql('{ me { id } }', {}, { token: tab.accessToken }))).toEqual(['SESSION_REVOKED']);
    }
    const refreshB = await t.gql('mutation ($t: String) { refresh(refreshToken: $t) { accessToken } }', { t: tabB.cookie });
    expect(codes(refreshB)).toEqual(['INVALID_REFRESH_TOKEN']);
    const other = await login(t.gql, { email });
    const live = await t.gql<{ mySessions: { id: string }[] }>('{ mySessions { id } }', {}, { token: other.accessToken });
    expect(live.data!.mySessions.map((session) => session.id)).not.toContain(tabB.sessionId);
  });

  it("ends only the access token's session when the cookie is of that same session", async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const tab = await loginWithCookie(email);
    const answer = await post('mutation { logout }', { cookie: tab.cookie, token: tab.accessToken });
    expect(answer.body).toEqual({ data: { logout: true } });
    expect(codes(await t.gql('{ me { id } }', {}, { token: tab.accessToken }))).toEqual(['SESSION_REVOKED']);
  });
});
