import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.js';
import { login, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

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
