import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.js';
import { REFRESH, refresh, signUp } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { REFRESH_REUSE_GRACE: '10' } });
});
afterAll(() => t.close());

const refreshCodes = async (token: string) => codes(await t.gql(REFRESH, { refreshToken: token }));

describe('refresh rotation', () => {
  it('spends the token, returns a different successor and moves lastUsedAt forward', async () => {
    const start = await signUp(t.gql);
    t.clock.advance(60);
    const next = await refresh(t.gql, start.refreshToken);
    expect(next.refreshToken).not.toBe(start.refreshToken);
    expect(next.session.id).toBe(start.session.id);
    expect(new Date(next.session.lastUsedAt).getTime()).toBeGreaterThan(new Date(start.session.lastUsedAt).getTime());
    const me = await t.gql('{ me { id } }', {}, { token: next.accessToken });
    expect(me.data!.me.id).toBe(start.user.id);
  });

  it('answers INVALID_REFRESH_TOKEN to an unknown, malformed or missing token', async () => {
    expect(await refreshCodes('A'.repeat(43))).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(await refreshCodes('not a token')).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(codes(await t.gql(REFRESH, {}))).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('treats a spent token presented after the grace window as theft and ends the whole session', async () => {
    const start = await signUp(t.gql);
    const next = await refresh(t.gql, start.refreshToken);
    t.clock.advance(11);
    expect(await refreshCodes(start.refreshToken)).toEqual(['REFRESH_TOKEN_REUSED']);
    // The thief's live token is dead too, and so is the session's access token.
    expect(await refreshCodes(next.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
    const me = await t.gql('{ me { id } }', {}, { token: next.accessToken });
    expect(codes(me)).toEqual(['SESSION_REVOKED']);
  });

  it('answers REFRESH_TOKEN_ROTATED and revokes nothing for the immediate predecessor inside the grace window', async () => {
    const start = await signUp(t.gql);
    const next = await refresh(t.gql, start.refreshToken);
    t.clock.advance(9);
    expect(await refreshCodes(start.refreshToken)).toEqual(['REFRESH_TOKEN_ROTATED']);
    const after = await refresh(t.gql, next.refreshToken);
    const me = await t.gql('{ me { id } }', {}, { token: after.accessToken });
    expect(me.errors).toBeUndefined();
  });

  it('treats an older ancestor as theft even inside the grace window', async () => {
    const first = await signUp(t.gql);
    const second = await refresh(t.gql, first.refreshToken);
    const third = await refresh(t.gql, second.refreshToken);
    expect(await refreshCodes(first.refreshToken)).toEqual(['REFRESH_TOKEN_REUSED']);
    expect(await refreshCodes(third.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('gives exactly one success to 20 simultaneous refreshes with one token', async () => {
    const start = await signUp(t.gql);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => t.gql(REFRESH, { refreshToken: start.refreshToken })),
    );
    const successes = results.filter((result) => !result.errors);
    expect(successes).toHaveLength(1);
    const failures = results.flatMap((result) => codes(result));
    expect(new Set(failures)).toEqual(new Set(['REFRESH_TOKEN_ROTATED']));
    // The winner's successor still works: nothing was revoked by the losers.
    await refresh(t.gql, successes[0]!.data!.refresh.refreshToken);
  });

  it('fails a refresh of a logged-out session with INVALID_REFRESH_TOKEN', async () => {
    const start = await signUp(t.gql);
    await t.gql('mutation { logout }', {}, { token: start.accessToken });
    expect(await refreshCodes(start.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
  });
});

describe('refresh with no grace window', () => {
  it('treats even the immediate predecessor as theft when REFRESH_REUSE_GRACE is 0', async () => {
    const strict = await createTestApp({ env: { REFRESH_REUSE_GRACE: '0' } });
    try {
      const start = await signUp(strict.gql);
      await refresh(strict.gql, start.refreshToken);
      const reused = await strict.gql(REFRESH, { refreshToken: start.refreshToken });
      expect(codes(reused)).toEqual(['REFRESH_TOKEN_REUSED']);
    } finally {
      await strict.close();
    }
  });
});
