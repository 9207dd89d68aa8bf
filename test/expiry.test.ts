import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.js';
import { REFRESH, refresh, signUp } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

const HOUR = 3600;
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({
    env: { ACCESS_TOKEN_TTL: '900', SESSION_IDLE_TIMEOUT: String(2 * HOUR), REFRESH_TOKEN_TTL: String(5 * HOUR) },
  });
});
afterAll(() => t.close());

describe('session expiry', () => {
  it('ends a session that was not refreshed within SESSION_IDLE_TIMEOUT', async () => {
    const start = await signUp(t.gql);
    t.clock.advance(2 * HOUR - 1);
    const kept = await refresh(t.gql, start.refreshToken);
    t.clock.advance(2 * HOUR + 1);
    expect(codes(await t.gql(REFRESH, { refreshToken: kept.refreshToken }))).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('ends a session REFRESH_TOKEN_TTL after login however often it is refreshed', async () => {
    let payload = await signUp(t.gql);
    for (let hour = 1; hour < 5; hour += 1) {
      t.clock.advance(HOUR);
      payload = await refresh(t.gql, payload.refreshToken);
    }
    expect(new Date(payload.refreshTokenExpiresAt).getTime()).toBe(new Date(payload.session.expiresAt).getTime());
    t.clock.advance(HOUR);
    expect(codes(await t.gql(REFRESH, { refreshToken: payload.refreshToken }))).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('never issues an access token that outlives its session', async () => {
    let late = await signUp(t.gql);
    for (const step of [HOUR, HOUR, HOUR, HOUR, HOUR - 600]) {
      t.clock.advance(step);
      late = await refresh(t.gql, late.refreshToken);
    }
    // 600 s of session left, less than ACCESS_TOKEN_TTL (900 s).
    expect(new Date(late.accessTokenExpiresAt).getTime()).toBeLessThanOrEqual(
      new Date(late.session.expiresAt).getTime(),
    );
  });

  it('drops expired sessions from mySessions', async () => {
    const first = await signUp(t.gql, { deviceName: 'old' });
    t.clock.advance(2 * HOUR + 1);
    const me = await signUp(t.gql, { deviceName: 'new' });
    const listed = await t.gql('{ mySessions { id } }', {}, { token: me.accessToken });
    expect(listed.data!.mySessions.map((s: { id: string }) => s.id)).not.toContain(first.session.id);
  });

  it('answers TOKEN_EXPIRED for an access token past its exp and the 30 s tolerance', async () => {
    const start = await signUp(t.gql);
    t.clock.advance(900 + 20);
    expect((await t.gql('{ me { id } }', {}, { token: start.accessToken })).errors).toBeUndefined();
    t.clock.advance(20);
    expect(codes(await t.gql('{ me { id } }', {}, { token: start.accessToken }))).toEqual(['TOKEN_EXPIRED']);
  });
});
