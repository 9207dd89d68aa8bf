import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { login, signUp } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

/**
 * Each distinct access token is verified once and its claims remembered until it expires; what must
 * still hold for a remembered token is checked here, through the API.
 */
const t = useTestApp();

const meCodes = async (token: string) => codes(await t.gql('{ me { id } }', {}, { token }));

describe('a token verified before', () => {
  it('is refused with SESSION_REVOKED on the next request once its session ends', async () => {
    const session = await signUp(t.gql);
    expect(await meCodes(session.accessToken)).toEqual([]);
    expect(await meCodes(session.accessToken)).toEqual([]);

    expect((await t.gql('mutation { logout }', {}, { token: session.accessToken })).data).toEqual({ logout: true });
    expect(await meCodes(session.accessToken)).toEqual(['SESSION_REVOKED']);
  });

  it('is refused with SESSION_REVOKED once another device revokes its session', async () => {
    const phone = await signUp(t.gql, { deviceName: 'phone' });
    const laptop = await login(t.gql, { email: phone.user.email, deviceName: 'laptop' });
    expect(await meCodes(phone.accessToken)).toEqual([]);

    const revoked = await t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, { token: laptop.accessToken });
    expect(revoked.data).toEqual({ revokeDevice: true });
    expect(await meCodes(phone.accessToken)).toEqual(['SESSION_REVOKED']);
    expect(await meCodes(laptop.accessToken)).toEqual([]);
  });

  it('is refused with TOKEN_EXPIRED from its expiry plus the 30 s tolerance on, by the injected clock', async () => {
    const session = await signUp(t.gql);
    expect(await meCodes(session.accessToken)).toEqual([]);
    const expiresAt = new Date(session.accessTokenExpiresAt).getTime();

    t.clock.set(new Date(expiresAt + 29_000));
    expect(await meCodes(session.accessToken)).toEqual([]);
    t.clock.set(new Date(expiresAt + 30_000));
    expect(await meCodes(session.accessToken)).toEqual(['TOKEN_EXPIRED']);
    // Still expired when asked again (the remembered claims are gone, the signature is checked anew).
    expect(await meCodes(session.accessToken)).toEqual(['TOKEN_EXPIRED']);
  });

  it('does not vouch for another string with the same claims: a changed signature is INVALID_TOKEN', async () => {
    const session = await signUp(t.gql);
    expect(await meCodes(session.accessToken)).toEqual([]);
    const [header, payload, signature] = session.accessToken.split('.');
    const flipped = signature!.startsWith('A') ? `B${signature!.slice(1)}` : `A${signature!.slice(1)}`;
    expect(await meCodes(`${header}.${payload}.${flipped}`)).toEqual(['INVALID_TOKEN']);
    expect(await meCodes(session.accessToken)).toEqual([]);
  });
});

describe('me', () => {
  it('answers id, email and createdAt, loading the account only for the fields the token does not carry', async () => {
    const session = await signUp(t.gql);
    const idOnly = await t.gql('{ me { id } }', {}, { token: session.accessToken });
    expect(idOnly.data).toEqual({ me: { id: session.user.id } });
    const all = await t.gql('{ me { id email createdAt } again: me { email } }', {}, { token: session.accessToken });
    expect(all.errors).toBeUndefined();
    expect(all.data).toEqual({ me: session.user, again: { email: session.user.email } });
  });
});
