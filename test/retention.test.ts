import { count, eq, inArray, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { RETENTION_BATCH } from '../src/auth/retention.js';
import { authEvents, deletedSessions, refreshTokens, sessions } from '../src/db/schema.js';
import { useTestApp } from './helpers/app.js';
import { login, REFRESH, refresh, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { backend } from './helpers/database.js';
import { codes } from './helpers/gql.js';

const DAY = 86_400;
/** Short retentions; a session's absolute end may not outlast SESSION_RETENTION (start-up refuses that). */
const SESSION_RETENTION = 6 * DAY;
const AUTH_EVENT_RETENTION = 5 * DAY;

const t = useTestApp({
  env: {
    SESSION_RETENTION: String(SESSION_RETENTION),
    REFRESH_TOKEN_TTL: String(SESSION_RETENTION),
    AUTH_EVENT_RETENTION: String(AUTH_EVENT_RETENTION),
  },
});

const db = () => t.app.database.db;
const sessionRows = (ids: string[]) => db().select({ id: sessions.id }).from(sessions).where(inArray(sessions.id, ids));
const tokenCount = async (sessionId: string) =>
  (await db().select({ n: count() }).from(refreshTokens).where(eq(refreshTokens.sessionId, sessionId)))[0]!.n;

describe('the retention sweeper', () => {
  it('deletes a session (and its refresh tokens) SESSION_RETENTION after it ended, not before', async () => {
    const email = uniqueEmail();
    const ended = await signUp(t.gql, { email });
    await t.gql('mutation { logout }', {}, { token: ended.accessToken });

    t.clock.advance(SESSION_RETENTION - 1);
    // Signed in later: no session outlives SESSION_RETENTION, so a live one is a younger one.
    const live = await login(t.gql, { email });
    await t.app.sweepRetention();
    expect(await sessionRows([ended.session.id, live.session.id])).toHaveLength(2);

    t.clock.advance(2);
    const swept = await t.app.sweepRetention();
    expect(swept.sessions).toBeGreaterThanOrEqual(1);
    expect((await sessionRows([ended.session.id, live.session.id])).map((row) => row.id)).toEqual([live.session.id]);
    expect(await tokenCount(ended.session.id)).toBe(0);
    // What is left of it answers as an unknown token would.
    expect(codes(await t.gql(REFRESH, { refreshToken: ended.refreshToken }))).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(codes(await t.gql(REFRESH, { refreshToken: live.refreshToken }))).toEqual([]);
  });

  it('deletes an expired session once the expiry sweeper has ended it and the retention has passed', async () => {
    const idle = await signUp(t.gql);
    t.clock.advance(7 * DAY + 1);
    await t.app.sweepExpiredSessions();
    t.clock.advance(SESSION_RETENTION + 1);
    await t.app.sweepRetention();
    expect(await sessionRows([idle.session.id])).toEqual([]);
  });

  it("keeps a live session's spent refresh tokens as long as the session lives, so that their reuse is still caught", async () => {
    const first = await signUp(t.gql);
    const second = await refresh(t.gql, first.refreshToken);
    t.clock.advance(SESSION_RETENTION - 60);
    const third = await refresh(t.gql, second.refreshToken);
    await t.app.sweepRetention();
    expect(await tokenCount(first.session.id)).toBe(3);
    expect(codes(await t.gql(REFRESH, { refreshToken: first.refreshToken }))).toEqual(['REFRESH_TOKEN_REUSED']);
    expect(codes(await t.gql(REFRESH, { refreshToken: third.refreshToken }))).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('deletes audit events older than AUTH_EVENT_RETENTION and keeps younger ones', async () => {
    const user = await signUp(t.gql);
    t.clock.advance(AUTH_EVENT_RETENTION - DAY);
    const next = await refresh(t.gql, user.refreshToken);
    t.clock.advance(DAY + 1);
    await t.app.sweepRetention();
    const result = await t.gql('{ myAuthEvents { type } }', {}, { token: (await refresh(t.gql, next.refreshToken)).accessToken });
    expect(result.data!.myAuthEvents).toEqual([{ type: 'REFRESHED' }, { type: 'REFRESHED' }]);
  });

  it('works through a backlog larger than one batch', async () => {
    const { user } = await signUp(t.gql);
    const total = RETENTION_BATCH * 2 + 17;
    const endedAt = new Date(t.clock().getTime() - (SESSION_RETENTION + 60) * 1000).toISOString();
    await db().execute(sql`
      insert into sessions (id, user_id, created_at, last_used_at, expires_at, ended_at, end_reason)
      select gen_random_uuid(), ${user.id}, ${endedAt}, ${endedAt}, ${endedAt}, ${endedAt}, 'LOGOUT'
      from generate_series(1, ${total})`);
    const swept = await t.app.sweepRetention();
    // At least the backlog: earlier tests of this file leave sessions of their own past the retention.
    expect(swept.sessions).toBeGreaterThanOrEqual(total);
    const left = await db().select({ n: count() }).from(sessions).where(eq(sessions.userId, user.id));
    expect(left[0]!.n).toBe(1);
  });

  it.skipIf(backend !== 'postgres')(
    'runs on one instance at a time: a sweep finds the lock taken and deletes nothing (PostgreSQL only)',
    async () => {
      const ended = await signUp(t.gql);
      await t.gql('mutation { logout }', {}, { token: ended.accessToken });
      t.clock.advance(SESSION_RETENTION + 1);

      const other = postgres(t.database.url!, { max: 1, onnotice: () => {} });
      try {
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        let locked!: () => void;
        const isLocked = new Promise<void>((resolve) => (locked = resolve));
        const holder = other.begin(async (tx) => {
          await tx`select pg_advisory_xact_lock(${0x7469_6472})`;
          locked();
          await released;
        });
        await isLocked;
        expect(await t.app.sweepRetention()).toEqual({ sessions: 0, refreshTokens: 0, authEvents: 0, deletedSessions: 0 });
        expect(await sessionRows([ended.session.id])).toHaveLength(1);
        release();
        await holder;
        expect((await t.app.sweepRetention()).sessions).toBeGreaterThanOrEqual(1);
        expect(await sessionRows([ended.session.id])).toHaveLength(0);
      } finally {
        await other.end();
      }
    },
  );

  it("deletes a deleted session's tombstone once the revocation window has passed, not before", async () => {
    const { session } = await signUp(t.gql);
    await db().execute(sql`delete from sessions where id = ${session.id}`);
    const tombstones = () =>
      db().select({ endedAt: deletedSessions.endedAt }).from(deletedSessions).where(eq(deletedSessions.sessionId, session.id));
    const [tombstone] = await tombstones();
    // Written at the database's time; the window is counted on the instance's clock.
    const deletedAt = tombstone!.endedAt.getTime();
    const window = t.app.revocations.windowSeconds;

    t.clock.set(new Date(deletedAt + (window - 1) * 1000));
    await t.app.sweepRetention();
    expect(await tombstones()).toHaveLength(1);

    t.clock.advance(2);
    expect((await t.app.sweepRetention()).deletedSessions).toBeGreaterThanOrEqual(1);
    expect(await tombstones()).toEqual([]);
  });

  it('leaves the audit log append-only outside the sweeper even for old rows', async () => {
    const user = await signUp(t.gql);
    t.clock.advance(AUTH_EVENT_RETENTION * 2);
    await expect(db().execute(sql`delete from auth_events where user_id = ${user.user.id}`)).rejects.toThrow();
    const rows = await db().select({ n: count() }).from(authEvents).where(eq(authEvents.userId, user.user.id));
    expect(rows[0]!.n).toBe(1);
  });
});
