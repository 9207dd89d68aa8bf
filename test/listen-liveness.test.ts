import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../src/db/client.js';
import { listenApplicationName, REVOCATION_CHANNEL } from '../src/events/postgres-bus.js';
import { createTestApp, useTestApp, type TestAppOptions } from './helpers/app.js';
import { twoDevices } from './helpers/auth-flows.js';
import { backend } from './helpers/database.js';
import { eventually } from './helpers/eventually.js';
import { codes } from './helpers/gql.js';
import { createTcpProxy } from './helpers/tcp-proxy.js';

const REVOKE_DEVICE = 'mutation ($id: ID!) { revokeDevice(sessionId: $id) }';

/** LISTEN/NOTIFY is PostgreSQL's: these run on PostgreSQL only. */
describe.skipIf(backend !== 'postgres')('a LISTEN connection that stops answering (PostgreSQL only)', () => {
  const a = useTestApp();

  /** A second instance that reaches the database through a proxy; `beforeStart` arms the proxy first. */
  async function instanceBehindProxy(
    options: TestAppOptions,
    beforeStart: (proxy: Awaited<ReturnType<typeof createTcpProxy>>) => void = () => {},
  ) {
    const target = new URL(a.database.url!);
    const proxy = await createTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    beforeStart(proxy);
    const handle = connectPostgres(proxy.urlFor(a.database.url!));
    const built = performance.now();
    const c = await createTestApp({
      database: { handle, url: handle.url, drop: () => handle.close() },
      clock: a.clock,
      ...options,
    });
    const startMs = performance.now() - built;
    const close = async () => {
      await c.close();
      await handle.close();
      await proxy.close();
    };
    return { c, proxy, close, startMs };
  }

  it('counts itself unsynchronised within a second and the probe timeout of a silent LISTEN connection, refusing a token revoked meanwhile', async () => {
    const { c, proxy, close } = await instanceBehindProxy({ env: { LISTEN_PROBE_TIMEOUT_MS: '300' } });
    try {
      const { laptop, phone } = await twoDevices(a.gql);
      expect(codes(await c.gql('{ me { id } }', {}, { token: phone.accessToken }))).toEqual([]);
      expect(proxy.blackhole((startup) => startup.includes(Buffer.from(listenApplicationName(c.app.instanceId))))).toBe(
        1,
      );
      const silent = performance.now();
      await a.gql(REVOKE_DEVICE, { id: phone.session.id }, { token: laptop.accessToken });

      await eventually(() => !c.app.revocations.synchronised, 2500);
      expect(performance.now() - silent).toBeLessThan(1000 + 300 + 500);
      expect(codes(await c.gql('{ me { id } }', {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);
      await eventually(() => c.app.revocations.synchronised && c.app.revocations.has(phone.session.id), 3000);
    } finally {
      await close();
    }
  });

  it('starts when LISTEN connects but never answers, then listens on a new connection', async () => {
    const listenQuery = Buffer.from(`listen ${REVOCATION_CHANNEL}`);
    const { c, close, startMs } = await instanceBehindProxy({ listenTimeoutMs: 500 }, (proxy) =>
      proxy.freezeOnClientData((chunk) => chunk.includes(listenQuery)),
    );
    try {
      expect(startMs).toBeLessThan(3000);
      const { laptop, phone } = await twoDevices(a.gql);
      await a.gql(REVOKE_DEVICE, { id: phone.session.id }, { token: laptop.accessToken });
      await eventually(
        async () => codes(await c.gql('{ me { id } }', {}, { token: phone.accessToken }))[0] === 'SESSION_REVOKED',
        1000,
      );
      await eventually(() => c.app.revocations.synchronised, 3000);

      // Listening: the next revocation arrives as a notification.
      const { laptop: other, phone: otherPhone } = await twoDevices(a.gql);
      await a.gql(REVOKE_DEVICE, { id: otherPhone.session.id }, { token: other.accessToken });
      await eventually(() => c.app.revocations.has(otherPhone.session.id), 1000);
    } finally {
      await close();
    }
  }, 15_000);
});
