import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { login, REFRESH, refresh, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

const t = useTestApp();

describe('signing up and listing sessions', () => {
  it('signs a user up and answers me with the new account', async () => {
    const email = uniqueEmail();
    const payload = await signUp(t.gql, { email, deviceName: 'laptop' });
    expect(payload.user.email).toBe(email);
    expect(payload.session.current).toBe(true);
    expect(payload.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const me = await t.gql('{ me { id email } }', {}, { token: payload.accessToken });
    expect(me.errors).toBeUndefined();
    expect(me.data!.me).toEqual({ id: payload.user.id, email });
  });

  it('lists two devices, most recently used first, marking the caller', async () => {
    const email = uniqueEmail();
    const first = await signUp(t.gql, { email, deviceName: 'laptop' });
    t.clock.advance(5);
    const second = await login(t.gql, { email, deviceName: 'phone' });

    const listed = await t.gql('{ mySessions { id current deviceName } }', {}, { token: first.accessToken });
    expect(listed.data!.mySessions).toEqual([
      { id: second.session.id, current: false, deviceName: 'phone' },
      { id: first.session.id, current: true, deviceName: 'laptop' },
    ]);
  });

  it('answers UNAUTHENTICATED to me without a token', async () => {
    const result = await t.gql('{ me { id } }');
    expect(codes(result)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('a new user on two devices', () => {
  it('signs up, logs in elsewhere, lists, refreshes, revokes the other device and sees a reused token end its session', async () => {
    const email = uniqueEmail();
    const laptop = await signUp(t.gql, { email, deviceName: 'laptop' });
    t.clock.advance(1);
    const phone = await login(t.gql, { email, deviceName: 'phone' });

    const listed = await t.gql('{ mySessions { deviceName current } }', {}, { token: laptop.accessToken });
    expect(listed.data!.mySessions).toEqual([
      { deviceName: 'phone', current: false },
      { deviceName: 'laptop', current: true },
    ]);

    t.clock.advance(1);
    const laptop2 = await refresh(t.gql, laptop.refreshToken);
    const revoked = await t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, {
      token: laptop2.accessToken,
    });
    expect(revoked.data).toEqual({ revokeDevice: true });
    expect(codes(await t.gql('{ me { id } }', {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);

    t.clock.advance(60);
    expect(codes(await t.gql(REFRESH, { refreshToken: laptop.refreshToken }))).toEqual(['REFRESH_TOKEN_REUSED']);
    expect(codes(await t.gql('{ me { id } }', {}, { token: laptop2.accessToken }))).toEqual(['SESSION_REVOKED']);
    expect(codes(await t.gql(REFRESH, { refreshToken: laptop2.refreshToken }))).toEqual(['INVALID_REFRESH_TOKEN']);
  });
});
