import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { sessions, users } from '../src/db/schema.js';
import { useStartedApp } from './helpers/app.js';
import { login, twoDevices } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import { watchRevocations } from './helpers/ws.js';

const t = useStartedApp();

describe('rows deleted in the database (an operator at work)', () => {
  it("ends a deleted session like a revoked one: its token is refused and the user's other devices hear ADMIN", async () => {
    const { laptop, phone } = await twoDevices(t.gql);
    const { client, feed } = await watchRevocations(t, laptop.accessToken);

    await t.app.database.db.delete(sessions).where(eq(sessions.id, phone.session.id));
    await feed.next(1);
    expect(feed.events).toEqual([
      { sessionId: phone.session.id, reason: 'ADMIN', revokedAt: expect.any(String), current: false },
    ]);
    expect(codes(await t.gql('{ me { id } }', {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);
    expect(codes(await t.gql('{ me { id } }', {}, { token: laptop.accessToken }))).toEqual([]);
    expect(client.closes).toEqual([]);
    await client.dispose();
  });

  it('ends every session of a deleted user: its sockets hear ADMIN for their own session and close 4403', async () => {
    const { laptop, phone } = await twoDevices(t.gql);
    const { client, feed } = await watchRevocations(t, laptop.accessToken);

    await t.app.database.db.delete(users).where(eq(users.id, laptop.user.id));
    expect(await client.closed).toEqual({ code: 4403, reason: 'Session revoked' });
    expect(feed.events).toContainEqual(expect.objectContaining({ sessionId: laptop.session.id, reason: 'ADMIN', current: true }));
    for (const device of [laptop, phone]) {
      expect(codes(await t.gql('{ me { id } }', {}, { token: device.accessToken }))).toEqual(['SESSION_REVOKED']);
    }
  });

  it('says nothing of deleted sessions that had already ended', async () => {
    const { laptop, phone } = await twoDevices(t.gql);
    await t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, { token: laptop.accessToken });
    const { client, feed } = await watchRevocations(t, laptop.accessToken);

    const third = await login(t.gql, { email: laptop.user.email });
    await t.app.database.db.delete(sessions).where(eq(sessions.id, phone.session.id));
    // Announcements of the database arrive in commit order: had the first said anything, it would come first.
    await t.app.database.db.delete(sessions).where(eq(sessions.id, third.session.id));
    await feed.next(1);
    expect(feed.events.map((event) => event.sessionId)).toEqual([third.session.id]);
    await client.dispose();
  });
});
