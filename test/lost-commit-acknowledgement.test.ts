import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../src/db/client.js';
import { createTestApp, useTestApp } from './helpers/app.js';
import { login, twoDevices } from './helpers/auth-flows.js';
import { backend } from './helpers/database.js';
import { eventually } from './helpers/eventually.js';
import { codes } from './helpers/gql.js';
import { createTcpProxy } from './helpers/tcp-proxy.js';
import { collectRevocations, subscribed, wsClient } from './helpers/ws.js';

const REVOKE_DEVICE = 'mutation ($id: ID!) { revokeDevice(sessionId: $id) }';
/** The CommandComplete a COMMIT answers with: the acknowledgement the client then never sees. */
const COMMIT_ACKNOWLEDGED = Buffer.from('COMMIT\0');

/** The acknowledgement travels on the pool's connection, the notification on LISTEN's: PostgreSQL only. */
describe.skipIf(backend !== 'postgres')('an end whose COMMIT acknowledgement was lost (PostgreSQL only)', () => {
  const base = useTestApp();

  /** An instance that reaches the database through a proxy, which can lose one reply. */
  async function instanceBehindProxy() {
    const target = new URL(base.database.url!);
    const proxy = await createTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const handle = connectPostgres(proxy.urlFor(base.database.url!));
    const c = await createTestApp({
      database: { handle, url: handle.url, drop: () => handle.close() },
      clock: base.clock,
    });
    const { url } = await c.app.start();
    const close = async () => {
      await c.close();
      await handle.close();
      await proxy.close();
    };
    return { c, url, proxy, close };
  }

  it("tells the instance's own subscribers and closes the ended session's socket 4403, each once", async () => {
    const { c, url, proxy, close } = await instanceBehindProxy();
    try {
      const { laptop, phone } = await twoDevices(c.gql);
      const watcher = wsClient(url, { token: laptop.accessToken });
      const watcherFeed = collectRevocations(watcher);
      const own = wsClient(url, { token: phone.accessToken });
      const ownFeed = collectRevocations(own);
      await subscribed(c, watcher, own);

      // Committed, but the instance that ended it saw only an error: only its own NOTIFY tells it.
      const lost = proxy.killOnServerData((chunk) => chunk.includes(COMMIT_ACKNOWLEDGED));
      const revoked = await c.gql(REVOKE_DEVICE, { id: phone.session.id }, { token: laptop.accessToken });
      await lost;
      expect(codes(revoked)).toEqual(['SERVICE_UNAVAILABLE']);

      await eventually(() => own.closes.length > 0, 3000);
      expect(own.closes).toEqual([{ code: 4403, reason: 'Session revoked' }]);
      await watcherFeed.next(1);
      expect(ownFeed.events.map(({ sessionId, current }) => ({ sessionId, current }))).toEqual([
        { sessionId: phone.session.id, current: true },
      ]);
      expect(codes(await c.gql('{ me { id } }', {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);

      // Each once: a later end (delivered after commit, then heard again as its own) adds one event.
      const tablet = await login(c.gql, { email: laptop.user.email, deviceName: 'tablet' });
      await c.gql(REVOKE_DEVICE, { id: tablet.session.id }, { token: laptop.accessToken });
      await watcherFeed.next(2);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(watcherFeed.events.map(({ sessionId }) => sessionId)).toEqual([phone.session.id, tablet.session.id]);
      expect(own.closes).toHaveLength(1);
      expect(watcher.closes).toEqual([]);
      await watcher.dispose();
    } finally {
      await close();
    }
  });
});
