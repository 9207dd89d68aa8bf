import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.js';
import { login, REFRESH, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const ME = '{ me { id } }';

describe('logout', () => {
  it('ends the session of the access token: its access token is refused at once, its refresh token too', async () => {
    const start = await signUp(t.gql);
    const out = await t.gql('mutation { logout }', {}, { token: start.accessToken });
    expect(out.data).toEqual({ logout: true });
    expect(codes(await t.gql(ME, {}, { token: start.accessToken }))).toEqual(['SESSION_REVOKED']);
    expect(codes(await t.gql(REFRESH, { refreshToken: start.refreshToken }))).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('is idempotent: logging out an ended session again returns true', async () => {
    const start = await signUp(t.gql);
    await t.gql('mutation { logout }', {}, { token: start.accessToken });
    const again = await t.gql('mutation { logout }', {}, { token: start.accessToken });
    expect(again.data).toEqual({ logout: true });
    const byRefresh = await t.gql('mutation ($r: String) { logout(refreshToken: $r) }', { r: start.refreshToken });
    expect(byRefresh.data).toEqual({ logout: true });
  });

  it('ends the session of the refresh token when no access token is sent', async () => {
    const start = await signUp(t.gql);
    const out = await t.gql('mutation ($r: String) { logout(refreshToken: $r) }', { r: start.refreshToken });
    expect(out.data).toEqual({ logout: true });
    expect(codes(await t.gql(ME, {}, { token: start.accessToken }))).toEqual(['SESSION_REVOKED']);
  });

  it('answers UNAUTHENTICATED with neither token, and INVALID_REFRESH_TOKEN for an unknown one', async () => {
    expect(codes(await t.gql('mutation { logout }'))).toEqual(['UNAUTHENTICATED']);
    const unknown = await t.gql('mutation ($r: String) { logout(refreshToken: $r) }', { r: 'x'.repeat(43) });
    expect(codes(unknown)).toEqual(['INVALID_REFRESH_TOKEN']);
  });
});

describe('revokeDevice', () => {
  it("ends another of the caller's sessions and leaves the caller's own alone", async () => {
    const email = uniqueEmail();
    const laptop = await signUp(t.gql, { email, deviceName: 'laptop' });
    const phone = await login(t.gql, { email, deviceName: 'phone' });
    const revoked = await t.gql(
      'mutation ($id: ID!) { revokeDevice(sessionId: $id) }',
      { id: phone.session.id },
      { token: laptop.accessToken },
    );
    expect(revoked.data).toEqual({ revokeDevice: true });
    expect(codes(await t.gql(ME, {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);
    expect((await t.gql(ME, {}, { token: laptop.accessToken })).errors).toBeUndefined();
    const listed = await t.gql('{ mySessions { id } }', {}, { token: laptop.accessToken });
    expect(listed.data!.mySessions).toEqual([{ id: laptop.session.id }]);
  });

  it("answers NOT_FOUND for an unknown id, a malformed id and another user's session", async () => {
    const mine = await signUp(t.gql);
    const theirs = await signUp(t.gql);
    for (const id of [crypto.randomUUID(), 'not-a-uuid', "1' or '1'='1", theirs.session.id]) {
      const result = await t.gql(
        'mutation ($id: ID!) { revokeDevice(sessionId: $id) }',
        { id },
        { token: mine.accessToken },
      );
      expect(codes(result)).toEqual(['NOT_FOUND']);
    }
    expect((await t.gql(ME, {}, { token: theirs.accessToken })).errors).toBeUndefined();
  });

  it('requires a signed-in caller', async () => {
    const result = await t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: crypto.randomUUID() });
    expect(codes(result)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('revokeOtherSessions', () => {
  it('ends every other session of the caller, returns how many, and keeps the current one', async () => {
    const email = uniqueEmail();
    const keep = await signUp(t.gql, { email });
    const others = [await login(t.gql, { email }), await login(t.gql, { email })];
    const stranger = await signUp(t.gql);
    const result = await t.gql('mutation { revokeOtherSessions }', {}, { token: keep.accessToken });
    expect(result.data).toEqual({ revokeOtherSessions: 2 });
    for (const other of others) {
      expect(codes(await t.gql(ME, {}, { token: other.accessToken }))).toEqual(['SESSION_REVOKED']);
    }
    expect((await t.gql(ME, {}, { token: keep.accessToken })).errors).toBeUndefined();
    expect((await t.gql(ME, {}, { token: stranger.accessToken })).errors).toBeUndefined();
    const again = await t.gql('mutation { revokeOtherSessions }', {}, { token: keep.accessToken });
    expect(again.data).toEqual({ revokeOtherSessions: 0 });
  });

  it('remembers ended sessions across a restart of the instance (loaded from the database)', async () => {
    const start = await signUp(t.gql);
    await t.gql('mutation { logout }', {}, { token: start.accessToken });
    const restarted = await createTestApp({ database: t.database, clock: t.clock });
    try {
      expect(codes(await restarted.gql(ME, {}, { token: start.accessToken }))).toEqual(['SESSION_REVOKED']);
    } finally {
      await restarted.close();
    }
  });
});
