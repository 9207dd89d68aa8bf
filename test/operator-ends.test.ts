import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { useStartedApp, type StartedTestApp } from './helpers/app.js';
import { twoDevices } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import { watchRevocations } from './helpers/ws.js';

const t = useStartedApp();

/**
 * SQL as an operator runs it: on PostgreSQL from a connection of its own (the app's connections
 * announce their ends themselves); the embedded database has only the app's.
 */
function operatorSql(app: StartedTestApp) {
  let own: postgres.Sql | undefined;
  afterAll(() => own?.end());
  return async (text: string, ...params: string[]) => {
    if (!app.database.url)
      return app.app.database.db.execute(sql.raw(params.reduce((q, p, i) => q.replace(`$${i + 1}`, `'${p}'`), text)));
    own ??= postgres(app.database.url, { max: 1, onnotice: () => {} });
    return own.unsafe(text, params);
  };
}
const operator = operatorSql(t);

describe('sessions ended in SQL (an operator at work)', () => {
  it('announces a session ended by UPDATE: its token is refused, its socket closed 4403, the other devices hear ADMIN', async () => {
    const { laptop, phone } = await twoDevices(t.gql);
    const watcher = await watchRevocations(t, laptop.accessToken);
    const own = await watchRevocations(t, phone.accessToken);

    await operator('update sessions set ended_at = now() where id = $1', phone.session.id);
    expect(await own.client.closed).toEqual({ code: 4403, reason: 'Session revoked' });
    await watcher.feed.next(1);
    expect(watcher.feed.events).toEqual([
      { sessionId: phone.session.id, reason: 'ADMIN', revokedAt: expect.any(String), current: false },
    ]);
    expect(own.feed.events.map(({ sessionId, current }) => ({ sessionId, current }))).toEqual([
      { sessionId: phone.session.id, current: true },
    ]);
    expect(codes(await t.gql('{ me { id } }', {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);
    expect(codes(await t.gql('{ me { id } }', {}, { token: laptop.accessToken }))).toEqual([]);
    await watcher.client.dispose();
  });

  it("keeps the reason an operator wrote when it is one of ours, and announces an app's own end once", async () => {
    const { laptop, phone } = await twoDevices(t.gql);
    const watcher = await watchRevocations(t, laptop.accessToken);

    await t.gql(
      'mutation ($id: ID!) { revokeDevice(sessionId: $id) }',
      { id: phone.session.id },
      { token: laptop.accessToken },
    );
    const tablet = await twoDevices(t.gql);
    await operator(
      "update sessions set ended_at = now(), end_reason = 'PASSWORD_CHANGED' where user_id = $1",
      laptop.user.id,
    );
    await watcher.feed.next(2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(watcher.feed.events.map(({ sessionId, reason }) => ({ sessionId, reason }))).toEqual([
      { sessionId: phone.session.id, reason: 'REVOKED_BY_USER' },
      { sessionId: laptop.session.id, reason: 'PASSWORD_CHANGED' },
    ]);
    expect(codes(await t.gql('{ me { id } }', {}, { token: tablet.laptop.accessToken }))).toEqual([]);
  });

  it('refuses TRUNCATE of sessions, and of users (which cascades to them)', async () => {
    const { laptop } = await twoDevices(t.gql);
    for (const statement of ['truncate sessions cascade', 'truncate users cascade']) {
      const refusal = await operator(statement).then(
        () => null,
        (error: Error) => (error.cause as Error | undefined) ?? error,
      );
      expect(refusal?.message).toMatch(/^TRUNCATE of sessions is refused/);
    }
    expect(codes(await t.gql('{ me { id } }', {}, { token: laptop.accessToken }))).toEqual([]);
  });
});
