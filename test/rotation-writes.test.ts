import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { refreshTokens, sessions } from '../src/db/schema.js';
import { useTestApp } from './helpers/app.js';
import { REFRESH, refresh, signUp } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

/**
 * Rotation is one statement that does all of its writes or none: what a refused refresh leaves in
 * the database, what a rotation racing a revocation can hand out, and the database's own guard of
 * one live refresh token per session.
 */
const t = useTestApp();

const DAY = 86_400;
const refreshCodes = async (refreshToken: string) => codes(await t.gql(REFRESH, { refreshToken }));

async function stored(sessionId: string) {
  const db = t.database.handle.db;
  const [session] = await db.select().from(sessions).where(eq(sessions.id, sessionId));
  const tokens = await db.select().from(refreshTokens).where(eq(refreshTokens.sessionId, sessionId));
  return { session: session!, tokens: tokens.map(({ id, spentAt }) => ({ id, spentAt })).sort((a, b) => a.id.localeCompare(b.id)) };
}

describe('a refused refresh', () => {
  it('writes nothing for the live token of a session that has ended', async () => {
    const session = await signUp(t.gql);
    await t.gql('mutation { logout }', {}, { token: session.accessToken });
    const before = await stored(session.session.id);
    t.clock.advance(5);

    expect(await refreshCodes(session.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(await stored(session.session.id)).toEqual(before);
  });

  it('writes nothing for the token of a session past its idle end', async () => {
    const session = await signUp(t.gql);
    const before = await stored(session.session.id);
    t.clock.advance(7 * DAY);

    expect(await refreshCodes(session.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(await stored(session.session.id)).toEqual(before);
  });

  it('writes nothing for a retry inside the grace window, answered with the same successor', async () => {
    const first = await signUp(t.gql);
    const second = await refresh(t.gql, first.refreshToken);
    const before = await stored(first.session.id);
    t.clock.advance(1);

    expect((await refresh(t.gql, first.refreshToken)).refreshToken).toBe(second.refreshToken);
    expect(await stored(first.session.id)).toEqual(before);
  });

  it('ends the session for a reused token, and that end stays although the request fails', async () => {
    const first = await signUp(t.gql);
    await refresh(t.gql, first.refreshToken);
    t.clock.advance(60);

    expect(await refreshCodes(first.refreshToken)).toEqual(['REFRESH_TOKEN_REUSED']);
    const after = await stored(first.session.id);
    expect(after.session.endReason).toBe('REFRESH_TOKEN_REUSE');
    expect(after.session.endedAt).toEqual(t.clock());
  });
});

describe('a rotation racing a revocation', () => {
  it('either loses (INVALID_REFRESH_TOKEN) or hands out a successor that fails once the revocation is through', async () => {
    for (let round = 0; round < 10; round += 1) {
      const session = await signUp(t.gql);
      const [rotation, logout] = await Promise.all([
        t.gql(REFRESH, { refreshToken: session.refreshToken }),
        t.gql('mutation { logout }', {}, { token: session.accessToken }),
      ]);
      expect(logout.data).toEqual({ logout: true });
      if (rotation.errors) {
        expect(codes(rotation)).toEqual(['INVALID_REFRESH_TOKEN']);
      } else {
        expect(await refreshCodes(rotation.data!.refresh.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
      }
      const live = (await stored(session.session.id)).tokens.filter((token) => token.spentAt === null);
      expect(live.length).toBeLessThanOrEqual(1);
    }
  });
});

describe('the database', () => {
  it('refuses a second live refresh token for one session', async () => {
    const session = await signUp(t.gql);
    const insert = t.database.handle.db.insert(refreshTokens).values({
      id: crypto.randomUUID(),
      sessionId: session.session.id,
      parentId: null,
      tokenHash: 'f'.repeat(64),
      createdAt: t.clock(),
    });
    await expect(insert).rejects.toThrow();
  });
});
