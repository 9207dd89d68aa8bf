import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../src/db/client.js';
import type { SessionRevoked } from '../src/events/revocation-bus.js';
import { testConfig } from './helpers/app.js';
import { login, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { backend } from './helpers/database.js';
import { FEED_KEY, openFeed, OTHER_FEED_KEY, readSse, useFeedApps, type FeedApp } from './helpers/feed.js';
import { eventually } from './helpers/eventually.js';

const feeds = useFeedApps();
const feedApp = feeds.start;

async function logout(app: FeedApp, accessToken: string) {
  const result = await app.gql('mutation { logout }', {}, { token: accessToken });
  expect(result.data).toEqual({ logout: true });
}

async function subscribe(url: string, options: Parameters<typeof openFeed>[1] = {}) {
  const response = await openFeed(url, options);
  expect(response.status).toBe(200);
  const stream = readSse(response);
  feeds.defer(() => stream.cancel());
  return stream;
}

describe('GET /revocations: access', () => {
  it('answers 404 when REVOCATION_FEED_KEYS is not set', async () => {
    const app = await feedApp({ env: { REVOCATION_FEED_KEYS: '' } });
    expect((await openFeed(app.url)).status).toBe(404);
  });

  it('answers 401 without a key or with a wrong one, and streams for any configured key', async () => {
    const app = await feedApp();
    const missing = await openFeed(app.url, { key: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="revocations"');
    expect((await openFeed(app.url, { key: `${FEED_KEY}x` })).status).toBe(401);
    expect((await openFeed(app.url, { key: FEED_KEY.slice(0, -1) })).status).toBe(401);
    const other = await openFeed(app.url, { key: OTHER_FEED_KEY });
    expect(other.status).toBe(200);
    expect(other.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    await other.body!.cancel();
  });

  it('refuses a feed key shorter than 32 characters at start-up', () => {
    expect(() => testConfig({ REVOCATION_FEED_KEYS: `${FEED_KEY},short` })).toThrow(
      /^Invalid configuration:\n {2}REVOCATION_FEED_KEYS: must be a comma-separated list of keys of at least 32 characters each$/,
    );
  });

  it('answers 503 past REVOCATION_FEED_MAX_CLIENTS', async () => {
    const app = await feedApp({ env: { REVOCATION_FEED_MAX_CLIENTS: '1' } });
    await subscribe(app.url);
    const refused = await openFeed(app.url);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
  });
});

describe('GET /revocations: what it sends', () => {
  it('says hello, sends every session ended within ACCESS_TOKEN_TTL + 30 s, then ready', async () => {
    const app = await feedApp();
    const email = uniqueEmail();
    const old = await signUp(app.gql, { email });
    await logout(app, old.accessToken);
    app.clock.advance(900 + 31);
    const recent = await login(app.gql, { email });
    await logout(app, recent.accessToken);

    const stream = await subscribe(app.url);
    await eventually(() => stream.events.some((e) => e.event === 'ready'));
    expect(stream.events[0]!.event).toBe('hello');
    expect(JSON.parse(stream.events[0]!.data!)).toEqual({
      issuer: app.app.config.jwtIssuer,
      audience: app.app.config.jwtAudience,
      accessTokenTtl: 900,
      serverTime: app.clock().toISOString(),
      heartbeatInterval: 15_000,
    });
    const endedAt = app.clock().toISOString();
    // Other tests' ends are in the same database: this user's are the ones that say something.
    expect(stream.revoked().filter((end) => end.userId === recent.user.id)).toEqual([
      { id: `${Date.parse(endedAt)}-${recent.session.id}`, sessionId: recent.session.id, userId: recent.user.id, reason: 'LOGOUT', endedAt },
    ]);
    expect(JSON.parse(stream.events.at(-1)!.data!)).toEqual({ replayed: stream.revoked().length });
  });

  it('sends each end as it happens', async () => {
    const app = await feedApp();
    const laptop = await signUp(app.gql);
    const stream = await subscribe(app.url);
    await eventually(() => stream.events.some((e) => e.event === 'ready'));
    await logout(app, laptop.accessToken);
    await eventually(() => stream.revoked().some((end) => end.userId === laptop.user.id));
    expect(stream.revoked().at(-1)).toMatchObject({ sessionId: laptop.session.id, userId: laptop.user.id, reason: 'LOGOUT' });
  });

  it('sends a heartbeat comment every interval', async () => {
    const app = await feedApp({ revocationStream: { heartbeatMs: 50 } });
    const stream = await subscribe(app.url);
    await eventually(() => stream.events.filter((e) => e.comment === 'heartbeat').length >= 2);
  });

  it('resumes from Last-Event-ID across a restart: the ends committed meanwhile arrive, older ones are not replayed', async () => {
    const first = await feedApp();
    const email = uniqueEmail();
    const [a, b, c, d] = [await signUp(first.gql, { email }), ...(await Promise.all([1, 2, 3].map(() => login(first.gql, { email }))))];
    await logout(first, a.accessToken);
    first.clock.advance(120);
    await logout(first, b!.accessToken);
    const before = await subscribe(first.url);
    await eventually(() => before.events.some((e) => e.event === 'ready'));
    const lastId = before.revoked().filter((end) => end.userId === a.user.id).at(-1)!.id!;
    await before.cancel();

    // While the service is away: two ends, then the instance restarts.
    await logout(first, c!.accessToken);
    first.clock.advance(1);
    await logout(first, d!.accessToken);
    await first.stop();
    const second = await feedApp({ clock: first.clock });

    const after = await subscribe(second.url, { lastEventId: lastId });
    await eventually(() => after.events.some((e) => e.event === 'ready'));
    const replayed = after.revoked().filter((end) => end.userId === a.user.id).map((end) => end.sessionId);
    expect(replayed).toEqual([b!.session.id, c!.session.id, d!.session.id]);
  });

  it('cuts a client that does not read, and only that one', async () => {
    const app = await feedApp({ revocationStream: { maxBufferedBytes: 64 * 1024 } });
    const reader = await subscribe(app.url);
    await eventually(() => reader.events.some((e) => e.event === 'ready'));
    const snapshot = reader.revoked().length;
    const port = new URL(app.url).port;
    const stalled = connect(Number(port), '127.0.0.1');
    let stalledClosed = false;
    stalled.on('close', () => (stalledClosed = true)).on('error', () => {});
    stalled.write(`GET /revocations HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${FEED_KEY}\r\n\r\n`);
    // Never read: Node stops taking bytes off the socket once its own small buffer is full.
    stalled.pause();
    await eventually(() => app.app.revocationStream.clientCount === 2);

    let sent = 0;
    while (app.app.revocationStream.clientCount === 2 && sent < 200_000) {
      const batch: SessionRevoked[] = Array.from({ length: 20 }, () => ({
        sessionId: crypto.randomUUID(),
        userId: crypto.randomUUID(),
        reason: 'ADMIN',
        revokedAt: app.clock(),
      }));
      app.app.bus.deliverLocally(batch);
      sent += batch.length;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(app.app.revocationStream.clientCount).toBe(1);
    stalled.resume();
    await eventually(() => stalledClosed);
    await eventually(() => reader.revoked().length === snapshot + sent);
    expect(reader.ended).toBe(false);
  }, 60_000);
});

describe.skipIf(backend !== 'postgres')('GET /revocations across instances (PostgreSQL only)', () => {
  it('sends the ends that happen on another instance', async () => {
    const a = await feedApp();
    // B has its own pool and its own LISTEN connection on the same database.
    const bHandle = connectPostgres(feeds.database.url!);
    feeds.defer(() => bHandle.close());
    const b = await feedApp({ clock: a.clock, database: { handle: bHandle, url: feeds.database.url, drop: () => bHandle.close() } });
    const session = await signUp(a.gql);
    const stream = await subscribe(b.url);
    await eventually(() => stream.events.some((e) => e.event === 'ready'));
    await logout(a, session.accessToken);
    await eventually(() => stream.revoked().some((end) => end.userId === session.user.id));
    expect(stream.revoked().at(-1)).toMatchObject({ sessionId: session.session.id, reason: 'LOGOUT' });
  });
});
