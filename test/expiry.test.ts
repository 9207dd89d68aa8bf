import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { login, REFRESH, refresh, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

/** Defaults: ACCESS_TOKEN_TTL 900 s, SESSION_IDLE_TIMEOUT 7 days, REFRESH_TOKEN_TTL 30 days. */
const DAY = 86_400;
const IDLE = 7 * DAY;
const ABSOLUTE = 30 * DAY;

const t = useTestApp();

const refreshCodes = async (refreshToken: string) => codes(await t.gql(REFRESH, { refreshToken }));

describe('idle expiry', () => {
  it('keeps a session alive until SESSION_IDLE_TIMEOUT without a refresh, and ends it then', async () => {
    const email = uniqueEmail();
    const first = await signUp(t.gql, { email });
    t.clock.advance(IDLE - 1);
    const second = await refresh(t.gql, first.refreshToken);

    t.clock.advance(IDLE);
    const observer = await login(t.gql, { email, deviceName: 'observer' });
    expect(await refreshCodes(second.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
    const listed = await t.gql('{ mySessions { id } }', {}, { token: observer.accessToken });
    expect(listed.data!.mySessions).toEqual([{ id: observer.session.id }]);
  });

  it('says in expiresAt when the idle end comes, and moves it at every refresh', async () => {
    const first = await signUp(t.gql);
    const loginAt = t.clock().getTime();
    expect(new Date(first.session.expiresAt).getTime()).toBe(loginAt + IDLE * 1000);
    t.clock.advance(DAY);
    const second = await refresh(t.gql, first.refreshToken);
    expect(new Date(second.session.expiresAt).getTime()).toBe(loginAt + (DAY + IDLE) * 1000);
  });
});

describe('absolute expiry', () => {
  it('ends a session REFRESH_TOKEN_TTL after login however often it is refreshed', async () => {
    const first = await signUp(t.gql);
    const loginAt = t.clock().getTime();
    let token = first.refreshToken;
    for (let day = 6; day < 30; day += 6) {
      t.clock.advance(6 * DAY);
      const next = await refresh(t.gql, token);
      token = next.refreshToken;
      // Close to the absolute end, it is the absolute end that the session reports.
      expect(new Date(next.refreshTokenExpiresAt).getTime()).toBe(
        Math.min(loginAt + ABSOLUTE * 1000, t.clock().getTime() + IDLE * 1000),
      );
    }
    // Day 24: one more refresh a moment before the end works...
    t.clock.set(new Date(loginAt + (ABSOLUTE - 1) * 1000));
    const last = await refresh(t.gql, token);
    expect(last.refreshTokenExpiresAt).toBe(new Date(loginAt + ABSOLUTE * 1000).toISOString());
    // ...and its access token does not outlive the session.
    // (JWT times are whole seconds, so it ends at the last whole second before.)
    expect(new Date(last.accessTokenExpiresAt).getTime()).toBe(Math.floor(loginAt / 1000 + ABSOLUTE) * 1000);

    t.clock.advance(1);
    expect(await refreshCodes(last.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
  });
});

describe('access-token expiry', () => {
  it('refuses an access token after ACCESS_TOKEN_TTL plus the 30 s tolerance, and a refresh gives a working one', async () => {
    const first = await signUp(t.gql);
    t.clock.advance(900 + 29);
    expect(codes(await t.gql('{ me { id } }', {}, { token: first.accessToken }))).toEqual([]);
    t.clock.advance(2);
    expect(codes(await t.gql('{ me { id } }', {}, { token: first.accessToken }))).toEqual(['TOKEN_EXPIRED']);

    const second = await refresh(t.gql, first.refreshToken);
    expect(codes(await t.gql('{ me { id } }', {}, { token: second.accessToken }))).toEqual([]);
  });
});

describe('logout after expiry', () => {
  it('answers true for a session that has already expired', async () => {
    const first = await signUp(t.gql);
    t.clock.advance(IDLE + 1);
    const result = await t.gql('mutation ($r: String) { logout(refreshToken: $r) }', { r: first.refreshToken });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ logout: true });
  });
});
