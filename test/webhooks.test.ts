import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { grantAdminByEmail } from '../src/auth/admin/roles.js';
import { webhookEndpoints } from '../src/db/schema.js';
import { createJsonLogger } from '../src/logger.js';
import { createTestApp, useTestApp, withTestApp, type TestApp } from './helpers/app.js';
import { AUTH_FIELDS, login, PASSWORD, signUp, SIGN_UP, uniqueEmail } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import { useWebhookReceiver, type ReceivedWebhook } from './helpers/webhook-receiver.js';

/** The worker runs only when a test calls app.webhooks.sendDue(). */
const WEBHOOKS = { pollMs: 2 ** 31 - 1, timeoutMs: 15_000 };
/** A hanging receiver is given up on sooner (yet not too soon for a busy machine's answers). */
const HANG_TIMEOUT_MS = 2_000;
const PRIVATE_OK = { WEBHOOK_ALLOW_PRIVATE: 'true' };
const APP_TEST_TIMEOUT_MS = 90_000;

const CREATE = `mutation ($url: String!, $events: [String!]!) {
  createWebhookEndpoint(url: $url, events: $events) { id url events createdAt secret } }`;
const DELIVERIES = `query ($endpointId: ID!) {
  webhookDeliveries(endpointId: $endpointId) { id eventId type payload status attempts lastStatus lastError } }`;
const ALL_EVENTS = ['user.created', 'session.created', 'session.revoked', 'password.changed', 'email.verified'];

interface Delivery {
  id: string;
  eventId: string;
  type: string;
  payload: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
}

/** An admin (granted as the command line does) whose token is fetched anew when asked for (the clock moves on). */
async function anAdmin(t: TestApp): Promise<{ token(): Promise<string>; first: string }> {
  const { user, accessToken } = await signUp(t.gql);
  expect(await grantAdminByEmail(t.app.database.db, t.clock, user.email)).toBe('granted');
  return { first: accessToken, token: async () => (await login(t.gql, { email: user.email })).accessToken };
}

/** An admin's token. */
async function adminToken(t: TestApp): Promise<string> {
  return (await anAdmin(t)).first;
}

async function createEndpoint(t: TestApp, token: string, url: string, events = ALL_EVENTS) {
  const result = await t.gql(CREATE, { url, events }, { token });
  if (result.errors) throw new Error(JSON.stringify(result.errors));
  return result.data!.createWebhookEndpoint as { id: string; secret: string; url: string; events: string[] };
}

async function deliveries(t: TestApp, token: string, endpointId: string): Promise<Delivery[]> {
  const result = await t.gql(DELIVERIES, { endpointId }, { token });
  if (result.errors) throw new Error(JSON.stringify(result.errors));
  return result.data!.webhookDeliveries as Delivery[];
}

function bodyOf(request: ReceivedWebhook): { type: string; timestamp: string; data: Record<string, unknown> } {
  return JSON.parse(request.body) as { type: string; timestamp: string; data: Record<string, unknown> };
}

describe('webhooks', () => {
  const receiver = useWebhookReceiver();
  const t = useTestApp({ env: PRIVATE_OK, webhooks: WEBHOOKS });

  it('delivers each event, signed per Standard Webhooks, with the session end and when its tokens stop being valid', async () => {
    const admin = await adminToken(t);
    const endpoint = await createEndpoint(t, admin, receiver().url);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const start = receiver().received.length;

    const email = uniqueEmail();
    const laptop = await signUp(t.gql, { email, deviceName: 'laptop' });
    const phone = await login(t.gql, { email, deviceName: 'phone' });
    const changed = await t.gql(
      `mutation ($current: String!, $next: String!) { changePassword(currentPassword: $current, newPassword: $next) { ${AUTH_FIELDS} } }`,
      { current: PASSWORD, next: 'another fine horse battery' },
      { token: laptop.accessToken },
    );
    expect(changed.errors).toBeUndefined();
    await t.app.webhooks.sendDue();

    const mine = receiver()
      .received.slice(start)
      .filter((request) => bodyOf(request).data.userId === laptop.user.id);
    const wh = new Webhook(endpoint.secret);
    for (const request of mine) expect(() => wh.verify(request.body, receiver().headersOf(request))).not.toThrow();
    const byType = (type: string) => mine.map(bodyOf).filter((body) => body.type === type);
    expect(byType('user.created').map((body) => body.data)).toEqual([{ userId: laptop.user.id, email }]);
    expect(byType('session.created').map((body) => body.data.sessionId).sort()).toEqual([laptop.session.id, phone.session.id].sort());
    expect(byType('password.changed').map((body) => body.data)).toEqual([{ userId: laptop.user.id, via: 'CHANGE' }]);
    const [revoked] = byType('session.revoked');
    expect(revoked?.data).toMatchObject({ userId: laptop.user.id, sessionId: phone.session.id, reason: 'PASSWORD_CHANGED' });
    const revokedAt = Date.parse(String(revoked!.data.revokedAt));
    expect(Date.parse(String(revoked!.data.accessTokensValidUntil))).toBe(revokedAt + t.app.config.accessTokenTtl * 1000);
    expect(Date.parse(revoked!.timestamp)).toBe(revokedAt);
    expect(mine).toHaveLength(5);
    expect(new Set(mine.map((request) => request.headers['webhook-id'])).size).toBe(5);

    const listed = await deliveries(t, admin, endpoint.id);
    expect(listed.filter((d) => mine.some((request) => request.headers['webhook-id'] === d.eventId))).toHaveLength(5);
    expect(listed.every((d) => d.status === 'DELIVERED' && d.lastStatus === 204)).toBe(true);
  });

  it('sends only the events an endpoint subscribed to, and nothing for a change that rolled back', async () => {
    const admin = await adminToken(t);
    const endpoint = await createEndpoint(t, admin, receiver().url, ['user.created']);
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const taken = await t.gql(SIGN_UP, { email, password: PASSWORD });
    expect(codes(taken)).toEqual(['EMAIL_TAKEN']);
    await t.app.webhooks.sendDue();
    expect((await deliveries(t, admin, endpoint.id)).map((d) => d.type)).toEqual(['user.created']);
    const forEmail = receiver().received.filter((request) => bodyOf(request).data.email === email);
    // Once per endpoint subscribed to user.created: this one, and the first test's.
    expect(forEmail).toHaveLength(2);
  });

  it('is for admins only: every field answers FORBIDDEN to a user, and an admin succeeds', async () => {
    const admin = await adminToken(t);
    const endpoint = await createEndpoint(t, admin, receiver().url, ['user.created']);
    const user = (await signUp(t.gql)).accessToken;
    await t.app.webhooks.sendDue();
    const [delivery] = await deliveries(t, admin, endpoint.id);
    const operations: [string, Record<string, unknown>][] = [
      [CREATE, { url: receiver().url, events: ['user.created'] }],
      ['{ webhookEndpoints { id } }', {}],
      [DELIVERIES, { endpointId: endpoint.id }],
      ['mutation ($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }', { id: delivery!.id }],
      ['mutation ($id: ID!) { deleteWebhookEndpoint(endpointId: $id) }', { id: endpoint.id }],
    ];
    for (const [query, variables] of operations) {
      expect(codes(await t.gql(query, variables, { token: user })), query).toEqual(['FORBIDDEN']);
      expect(codes(await t.gql(query, variables)), query).toEqual(['UNAUTHENTICATED']);
    }
    for (const [query, variables] of operations) {
      const result = await t.gql(query, variables, { token: admin });
      expect(result.errors, query).toBeUndefined();
    }
    const listed = await t.gql('{ webhookEndpoints { id } }', {}, { token: admin });
    expect(listed.data?.webhookEndpoints).not.toContainEqual({ id: endpoint.id });
    const again = await t.gql('mutation ($id: ID!) { deleteWebhookEndpoint(endpointId: $id) }', { id: endpoint.id }, { token: admin });
    expect(codes(again)).toEqual(['NOT_FOUND']);
  });

  it('refuses unknown event types and URLs that are not http(s)', async () => {
    const admin = await adminToken(t);
    const unknown = await t.gql(CREATE, { url: receiver().url, events: ['user.exploded'] }, { token: admin });
    expect(codes(unknown)).toEqual(['BAD_USER_INPUT']);
    expect(unknown.errors?.[0]?.extensions?.field).toBe('events');
    for (const url of ['ftp://example.com/hooks', 'not a url', 'http://user:pass@example.com/']) {
      const refused = await t.gql(CREATE, { url, events: ['user.created'] }, { token: admin });
      expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
      expect(refused.errors?.[0]?.extensions?.field).toBe('url');
    }
  });
});

describe('a receiver that fails, then recovers', () => {
  const receiver = useWebhookReceiver();

  it('gets each event at least once, with the same webhook-id, after backoff driven by the clock; the secret is never logged', async () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ write: (line) => lines.push(line) });
    await withTestApp({ env: PRIVATE_OK, webhooks: { ...WEBHOOKS, timeoutMs: HANG_TIMEOUT_MS }, logger }, async (t) => {
      const admin = await anAdmin(t);
      const endpoint = await createEndpoint(t, admin.first, receiver().url, ['user.created']);
      const user = await signUp(t.gql);
      receiver().mode = 'fail';
      expect(await t.app.webhooks.sendDue()).toBe(0);
      expect(await t.app.webhooks.sendDue()).toBe(0); // not due again before its backoff
      t.clock.advance(60);
      receiver().mode = 'hang';
      expect(await t.app.webhooks.sendDue()).toBe(0);
      t.clock.advance(120);
      receiver().mode = 'ok';
      expect(await t.app.webhooks.sendDue()).toBe(1);
      t.clock.advance(3600);
      expect(await t.app.webhooks.sendDue()).toBe(0);

      const attempts = receiver().received.filter((request) => bodyOf(request).data.userId === user.user.id);
      expect(attempts).toHaveLength(3);
      expect(new Set(attempts.map((request) => request.headers['webhook-id'])).size).toBe(1);
      const wh = new Webhook(endpoint.secret);
      for (const request of attempts) {
        // Signed at the injected clock's time, which has moved on from the real one: checked without the tolerance.
        const headers = receiver().headersOf(request);
        const signedAt = new Date(Number(headers['webhook-timestamp']) * 1000);
        expect(headers['webhook-signature']).toBe(wh.sign(headers['webhook-id']!, signedAt, request.body));
      }
      const [delivery] = await deliveries(t, await admin.token(), endpoint.id);
      expect(delivery).toMatchObject({ status: 'DELIVERED', attempts: 3, lastStatus: 204, lastError: null });

      const failures = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((l) => l.msg === 'webhook delivery failed');
      expect(failures.map((l) => l.failure)).toEqual(['HTTP 500', `no response within ${HANG_TIMEOUT_MS} ms`]);
      const secretBytes = endpoint.secret.slice('whsec_'.length);
      expect(lines.join('\n')).not.toContain(secretBytes);
      const [stored] = await t.app.database.db.select().from(webhookEndpoints);
      expect(stored!.secret).not.toContain(secretBytes); // sealed
    });
  }, APP_TEST_TIMEOUT_MS);

  it('gives up after a day (FAILED), and redeliverWebhook sends it again with its webhook-id', async () => {
    await withTestApp({ env: PRIVATE_OK, webhooks: WEBHOOKS }, async (t) => {
      const admin = await anAdmin(t);
      const endpoint = await createEndpoint(t, admin.first, receiver().url, ['user.created']);
      const user = await signUp(t.gql);
      receiver().mode = 'fail';
      for (let hour = 0; hour <= 26; hour += 1) {
        await t.app.webhooks.sendDue();
        t.clock.advance(3600);
      }
      const [failed] = await deliveries(t, await admin.token(), endpoint.id);
      expect(failed).toMatchObject({ status: 'FAILED', lastStatus: 500, lastError: 'HTTP 500' });
      const attemptsBefore = failed!.attempts;
      expect(await t.app.webhooks.sendDue()).toBe(0);
      expect(failed!.attempts).toBeGreaterThan(10);

      receiver().mode = 'ok';
      const redelivered = await t.gql(
        `mutation ($id: ID!) { redeliverWebhook(deliveryId: $id) { id status eventId } }`,
        { id: failed!.id },
        { token: await admin.token() },
      );
      expect(redelivered.data?.redeliverWebhook).toEqual({ id: failed!.id, status: 'PENDING', eventId: failed!.eventId });
      expect(await t.app.webhooks.sendDue()).toBe(1);
      const [delivered] = await deliveries(t, await admin.token(), endpoint.id);
      expect(delivered).toMatchObject({ status: 'DELIVERED', attempts: attemptsBefore + 1 });
      const last = receiver().received.filter((request) => bodyOf(request).data.userId === user.user.id).at(-1)!;
      expect(last.headers['webhook-id']).toBe(failed!.eventId);

      const unknown = await t.gql(`mutation { redeliverWebhook(deliveryId: "${crypto.randomUUID()}") { id } }`, {}, { token: await admin.token() });
      expect(codes(unknown)).toEqual(['NOT_FOUND']);
    });
  }, APP_TEST_TIMEOUT_MS);
});

describe('two instances delivering one outbox', () => {
  const receiver = useWebhookReceiver();

  it('deliver each event once', async () => {
    const first = await createTestApp({ env: PRIVATE_OK, webhooks: WEBHOOKS });
    const second = await createTestApp({ env: PRIVATE_OK, webhooks: WEBHOOKS, beside: first, separatePool: true });
    try {
      const admin = await adminToken(first);
      await createEndpoint(first, admin, receiver().url, ['user.created', 'session.created']);
      const start = receiver().received.length;
      for (let i = 0; i < 30; i += 1) await signUp(i % 2 === 0 ? first.gql : second.gql);
      const sent = await Promise.all([first.app.webhooks.sendDue(), second.app.webhooks.sendDue(), first.app.webhooks.sendDue()]);
      const ids = receiver().received.slice(start).map((request) => request.headers['webhook-id']);
      expect(ids).toHaveLength(60);
      expect(new Set(ids).size).toBe(60);
      expect(sent[0] + sent[1]).toBe(60);
      expect(await first.app.webhooks.backlog()).toBe(0);
    } finally {
      await second.close();
      await first.close();
    }
  }, APP_TEST_TIMEOUT_MS);
});

describe('endpoint addresses', () => {
  const t = useTestApp({
    webhooks: {
      ...WEBHOOKS,
      // hooks.example.test: public when the endpoint is created, 127.0.0.1 when it is delivered to (DNS rebinding).
      resolve: async (hostname) => {
        if (hostname === 'hooks.example.test') return [{ address: rebound ? '127.0.0.1' : '93.184.215.14', family: 4 }];
        if (hostname === 'localhost') return [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }];
        if (hostname === 'mixed.example.test') return [{ address: '93.184.215.14', family: 4 }, { address: '10.1.2.3', family: 4 }];
        throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      },
    },
  });
  let rebound = false;

  it('refuses private, loopback, link-local, unique-local and CGNAT addresses without WEBHOOK_ALLOW_PRIVATE', async () => {
    const admin = await adminToken(t);
    const urls = [
      'http://127.0.0.1:8080/hooks',
      'http://10.0.0.7/hooks',
      'http://192.168.1.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://100.100.100.200/',
      'http://[::1]/hooks',
      'http://[fd00:ec2::254]/',
      'http://[::ffff:127.0.0.1]/',
      'http://localhost:4000/hooks',
      'http://mixed.example.test/',
      'http://nowhere.example.test/',
    ];
    for (const url of urls) {
      const result = await t.gql(CREATE, { url, events: ['user.created'] }, { token: admin });
      expect(codes(result), url).toEqual(['BAD_USER_INPUT']);
      expect(result.errors?.[0]?.extensions?.field).toBe('url');
    }
  });

  it('checks the addresses again at delivery: a name rebound to a private address is not posted to', async () => {
    const admin = await adminToken(t);
    const endpoint = await createEndpoint(t, admin, 'http://hooks.example.test/hooks', ['user.created']);
    rebound = true;
    await signUp(t.gql);
    expect(await t.app.webhooks.sendDue()).toBe(0);
    const [delivery] = await deliveries(t, admin, endpoint.id);
    expect(delivery).toMatchObject({ status: 'PENDING', attempts: 1, lastStatus: null });
    expect(delivery!.lastError).toMatch(/^refused: the host resolves to a private or reserved address/);
  });
});
