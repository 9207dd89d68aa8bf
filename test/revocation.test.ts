import { describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { useTestApp, withTestApp } from './helpers/app.js';
import { login, REFRESH, signUp, uniqueEmail, type Payload } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

const LOGOUT = 'mutation ($refreshToken: String) { logout(refreshToken: $refreshToken) }';
const REVOKE_DEVICE = 'mutation ($id: ID!) { revokeDevice(sessionId: $id) }';
const REVOKE_OTHERS = 'mutation { revokeOtherSessions }';

const t = useTestApp();

const meCodes = async (token: string) => codes(await t.gql('{ me { id } }', {}, { token }));
const refreshCodes = async (refreshToken: string) => codes(await t.gql(REFRESH, { refreshToken }));

describe('logout', () => {
  it("ends the access token's session: its access token is refused at once and its refresh token fails", async () => {
    const session = await signUp(t.gql);
    const result = await t.gql(LOGOUT, {}, { token: session.accessToken });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ logout: true });

    expect(await meCodes(session.accessToken)).toEqual(['SESSION_REVOKED']);
    expect(await refreshCodes(session.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('ends the session of the refresh token given when there is no access token', async () => {
    const session = await signUp(t.gql);
    const result = await t.gql(LOGOUT, { refreshToken: session.refreshToken });
    expect(result.data).toEqual({ logout: true });
    expect(await meCodes(session.accessToken)).toEqual(['SESSION_REVOKED']);
    expect(await refreshCodes(session.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('is idempotent: a session that already ended is logged out again with true', async () => {
    const session = await signUp(t.gql);
    for (let i = 0; i < 2; i++) {
      expect((await t.gql(LOGOUT, {}, { token: session.accessToken })).data).toEqual({ logout: true });
      expect((await t.gql(LOGOUT, { refreshToken: session.refreshToken })).data).toEqual({ logout: true });
      const both = await t.gql(LOGOUT, { refreshToken: session.refreshToken }, { token: session.accessToken });
      expect(both.data).toEqual({ logout: true });
    }
  });

  it('ends only the caller session, not the other devices of the user', async () => {
    const email = uniqueEmail();
    const laptop = await signUp(t.gql, { email });
    const phone = await login(t.gql, { email });
    await t.gql(LOGOUT, {}, { token: laptop.accessToken });
    expect(await meCodes(phone.accessToken)).toEqual([]);
  });

  it('answers UNAUTHENTICATED with neither token, and INVALID_REFRESH_TOKEN for an unknown one', async () => {
    expect(codes(await t.gql(LOGOUT))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql(LOGOUT, { refreshToken: 'B'.repeat(43) }))).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(codes(await t.gql(LOGOUT, { refreshToken: 'garbage' }))).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('answers INVALID_TOKEN for a malformed access token and no refresh token', async () => {
    expect(codes(await t.gql(LOGOUT, {}, { token: 'not.a.jwt' }))).toEqual(['INVALID_TOKEN']);
  });
});

describe('revokeDevice', () => {
  it("ends one of the caller's other sessions at once, leaving the caller's own", async () => {
    const email = uniqueEmail();
    const laptop = await signUp(t.gql, { email });
    const phone = await login(t.gql, { email });
    const result = await t.gql(REVOKE_DEVICE, { id: phone.session.id }, { token: laptop.accessToken });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ revokeDevice: true });

    expect(await meCodes(phone.accessToken)).toEqual(['SESSION_REVOKED']);
    expect(await refreshCodes(phone.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(await meCodes(laptop.accessToken)).toEqual([]);
    const listed = await t.gql('{ mySessions { id } }', {}, { token: laptop.accessToken });
    expect(listed.data!.mySessions).toEqual([{ id: laptop.session.id }]);
  });

  it("can end the caller's own session", async () => {
    const session = await signUp(t.gql);
    const result = await t.gql(REVOKE_DEVICE, { id: session.session.id }, { token: session.accessToken });
    expect(result.data).toEqual({ revokeDevice: true });
    expect(await meCodes(session.accessToken)).toEqual(['SESSION_REVOKED']);
  });

  it.each([
    ['an unknown id', () => crypto.randomUUID()],
    ['a malformed id', () => 'not-a-uuid'],
    ['an empty id', () => ''],
  ])('answers NOT_FOUND for %s', async (_name, id) => {
    const session = await signUp(t.gql);
    const result = await t.gql(REVOKE_DEVICE, { id: id() }, { token: session.accessToken });
    expect(codes(result)).toEqual(['NOT_FOUND']);
  });

  it("answers NOT_FOUND for another user's session and leaves it alone", async () => {
    const mallory = await signUp(t.gql);
    const alice = await signUp(t.gql);
    const result = await t.gql(REVOKE_DEVICE, { id: alice.session.id }, { token: mallory.accessToken });
    expect(codes(result)).toEqual(['NOT_FOUND']);
    expect(await meCodes(alice.accessToken)).toEqual([]);
  });

  it('answers UNAUTHENTICATED without an access token', async () => {
    const session = await signUp(t.gql);
    expect(codes(await t.gql(REVOKE_DEVICE, { id: session.session.id }))).toEqual(['UNAUTHENTICATED']);
    expect(await meCodes(session.accessToken)).toEqual([]);
  });
});

describe('revokeOtherSessions', () => {
  it('ends every other session of the caller, says how many, and keeps the current one', async () => {
    const email = uniqueEmail();
    const current = await signUp(t.gql, { email });
    const others = [await login(t.gql, { email }), await login(t.gql, { email }), await login(t.gql, { email })];
    // An ended session is not counted again.
    await t.gql(LOGOUT, {}, { token: others[2]!.accessToken });
    const stranger = await signUp(t.gql);

    const result = await t.gql(REVOKE_OTHERS, {}, { token: current.accessToken });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ revokeOtherSessions: 2 });

    for (const other of others) {
      expect(await meCodes(other.accessToken)).toEqual(['SESSION_REVOKED']);
      expect(await refreshCodes(other.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
    }
    expect(await meCodes(current.accessToken)).toEqual([]);
    expect(await meCodes(stranger.accessToken)).toEqual([]);
    const listed = await t.gql('{ mySessions { id current } }', {}, { token: current.accessToken });
    expect(listed.data!.mySessions).toEqual([{ id: current.session.id, current: true }]);

    const again = await t.gql(REVOKE_OTHERS, {}, { token: current.accessToken });
    expect(again.data).toEqual({ revokeOtherSessions: 0 });
  });

  it('answers UNAUTHENTICATED without an access token', async () => {
    expect(codes(await t.gql(REVOKE_OTHERS))).toEqual(['UNAUTHENTICATED']);
  });

  it("ends nothing when the caller's own session ended after its token was checked: SESSION_REVOKED", async () => {
    const email = uniqueEmail();
    const caller = await signUp(t.gql, { email });
    const other = await login(t.gql, { email });
    // Ended in the database and not yet heard of here: the token check still passes, as in the race.
    await t.app.database.db.execute(sql`update sessions set ended_at = now(), end_reason = 'ADMIN' where id = ${caller.session.id}`);

    expect(codes(await t.gql(REVOKE_OTHERS, {}, { token: caller.accessToken }))).toEqual(['SESSION_REVOKED']);
    expect(await meCodes(other.accessToken)).toEqual([]);
    expect(await refreshCodes(other.refreshToken)).toEqual([]);
  });
});

describe('revocations known at start-up', () => {
  const deleteSession = (session: Payload) =>
    t.app.database.db.execute(sql`delete from sessions where id = ${session.session.id}`);
  it.each<[string, (ended: Payload) => Promise<unknown>]>([
    ['ended', (ended) => t.gql(LOGOUT, {}, { token: ended.accessToken })],
    // No instance was listening for these; the row is gone, and only its tombstone tells.
    ['deleted in SQL while live', (ended) => deleteSession(ended)],
    ['ended and then deleted in SQL', async (ended) => {
      await t.gql(LOGOUT, {}, { token: ended.accessToken });
      await deleteSession(ended);
    }],
  ])('refuses the access token of a session %s before the instance started', async (_how, end) => {
    const email = uniqueEmail();
    const kept = await signUp(t.gql, { email });
    const ended = await login(t.gql, { email });
    await end(ended);

    await withTestApp({ beside: t }, async (restarted) => {
      expect(codes(await restarted.gql('{ me { id } }', {}, { token: ended.accessToken }))).toEqual(['SESSION_REVOKED']);
      expect(codes(await restarted.gql('{ me { id } }', {}, { token: kept.accessToken }))).toEqual([]);
    });
  });
});

describe('sessions deleted in SQL by a role that may delete users and sessions, and no more', () => {
  it('the DELETE succeeds, and an instance started after it refuses the tokens', async () => {
    // An operator's role is often granted what its job needs: here, deleting users (whose sessions go
    // by cascade) and sessions. The tombstones are the trigger's business, not that role's.
    const role = `tidepass_operator_${crypto.randomUUID().replaceAll('-', '')}`;
    const db = t.app.database.db;
    await db.execute(sql.raw(`create role ${role}`));
    await db.execute(sql.raw(`grant select, delete on users, sessions to ${role}`));
    try {
      const email = uniqueEmail();
      const laptop = await signUp(t.gql, { email });
      const phone = await login(t.gql, { email });
      const other = await signUp(t.gql);
      const asOperator = (statement: ReturnType<typeof sql>) =>
        db.transaction(async (tx) => {
          await tx.execute(sql.raw(`set local role ${role}`));
          await tx.execute(statement);
        });
      await asOperator(sql`delete from sessions where id = ${phone.session.id}`);
      await asOperator(sql`delete from users where id = ${other.user.id}`);

      await withTestApp({ beside: t }, async (restarted) => {
        for (const token of [phone.accessToken, other.accessToken]) {
          expect(codes(await restarted.gql('{ me { id } }', {}, { token }))).toEqual(['SESSION_REVOKED']);
        }
        expect(codes(await restarted.gql('{ me { id } }', {}, { token: laptop.accessToken }))).toEqual([]);
      });
    } finally {
      await db.execute(sql.raw(`revoke all on users, sessions from ${role}`));
      await db.execute(sql.raw(`drop role ${role}`));
    }
  });
});

describe('the revocation set after a lost LISTEN connection', () => {
  it('stays unsynchronised (asking the database) when the connection drops again during a reload', async () => {
    const { revocations, database } = t.app;
    revocations.markDesynchronised();
    const firstReload = revocations.loadFrom(database.db);
    // The connection drops again before the first reload is done: that reload cannot vouch for the gap.
    revocations.markDesynchronised();
    await firstReload;
    expect(revocations.synchronised).toBe(false);

    // Meanwhile a session ends unseen by the set: the database is asked, so its token is refused.
    const email = uniqueEmail();
    const session = await signUp(t.gql, { email });
    await database.db.execute(sql`update sessions set ended_at = now(), end_reason = 'ADMIN' where id = ${session.session.id}`);
    expect(await meCodes(session.accessToken)).toEqual(['SESSION_REVOKED']);

    await revocations.loadFrom(database.db);
    expect(revocations.synchronised).toBe(true);
    expect(revocations.has(session.session.id)).toBe(true);
  });
});
