import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { signUp } from './helpers/auth-flows.js';
import { eventually } from './helpers/eventually.js';
import { codes } from './helpers/gql.js';

const t = useTestApp();

describe('forged revocation notifications (any role that can connect to the database can NOTIFY)', () => {
  const ACCESS_TOKEN_TTL = 900;
  const notify = (payload: string) =>
    t.app.database.db.execute(sql`select pg_notify('tidepass_session_revoked', ${payload})`);
  const wire = (sessionId: string, userId: string, at: string) =>
    `{"i":"forged","e":[["${sessionId}","${userId}","ADMIN",${at}]]}`;

  /**
   * Notifications arrive in order: once a well-formed one sent after `payload` has been acted on,
   * `payload` has been handled too.
   */
  async function notifyAndSettle(payload: string) {
    const sentinel = await signUp(t.gql);
    await notify(payload);
    await notify(wire(sentinel.session.id, sentinel.user.id, String(t.clock().getTime())));
    await eventually(async () => codes(await t.gql('{ me { id } }', {}, { token: sentinel.accessToken }))[0] === 'SESSION_REVOKED');
  }

  it.each([
    ['the last instant a Date can hold', '8640000000000000'],
    ['a time past any Date', '1e400'],
  ])('cannot shut a live session out for good with an end at %s', async (_name, at) => {
    const victim = await signUp(t.gql);
    await notifyAndSettle(wire(victim.session.id, victim.user.id, at));

    // However the forged end was taken, it is forgotten once no access token of that time can be
    // alive: the session (live in the database) then gets working access tokens again.
    t.clock.advance(ACCESS_TOKEN_TTL + 31);
    t.app.revocations.prune();
    const refreshed = await t.gql<{ refresh: { accessToken: string } }>(
      'mutation ($t: String) { refresh(refreshToken: $t) { accessToken } }',
      { t: victim.refreshToken },
    );
    expect(codes(refreshed)).toEqual([]);
    expect(codes(await t.gql('{ me { id } }', {}, { token: refreshed.data!.refresh.accessToken }))).toEqual([]);
  });

  it('keeps nothing of events whose ids are not UUIDs: no access token can name them, they would only take memory', async () => {
    const before = t.app.revocations.size;
    await notifyAndSettle(wire('x'.repeat(3000), 'y'.repeat(3000), String(t.clock().getTime())));
    // The sentinel's session is the one entry added.
    expect(t.app.revocations.size).toBe(before + 1);
  });
});
