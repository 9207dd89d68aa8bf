import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestApp, type TestApp } from './helpers/app.js';
import { pagePost, REFRESH_COOKIE as COOKIE } from './helpers/page-post.js';
import { login, PASSWORD, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import { eventually } from './helpers/eventually.js';

/**
 * An adversarial review's findings, each through the public API: what an attacker (or an unlucky
 * browser) could do before the fix, and what it gets now.
 */

const SERVER = 'http://localhost';
const LISTED_ORIGIN = 'https://app.example';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { CORS_ORIGINS: LISTED_ORIGIN } });
});
afterAll(() => t.close());

/** A POST as a same-origin page sends it, with the refresh cookie and optionally an access token. */
async function post(query: string, options: { cookie?: string; token?: string; variables?: Record<string, unknown> } = {}) {
  const response = await pagePost(t, SERVER, query, options);
  const body = (await response.json()) as { data?: Record<string, any> | null; errors?: { extensions?: { code?: string } }[] };
  return { body, cookies: response.headers.getSetCookie() };
}

/** Logs in with COOKIE delivery: the refresh token as the browser's cookie jar would hold it. */
async function loginWithCookie(email: string) {
  const answer = await post(
    `mutation ($email: String!, $password: String!) { login(email: $email, password: $password, delivery: COOKIE) { accessToken session { id } } }`,
    { variables: { email, password: PASSWORD } },
  );
  const cookie = new RegExp(`^${COOKIE}=([^;]+);`).exec(answer.cookies[0] ?? '')?.[1];
  expect(cookie).toBeDefined();
  return { cookie: cookie!, accessToken: answer.body.data!['login'].accessToken as string, sessionId: answer.body.data!['login'].session.id as string };
}

describe('logout in a browser whose access token and cookie belong to different sessions', () => {
  it('ends the session of the cookie it expires too, rather than leaving it live without a holder', async () => {
    // Two tabs: the first logged in (session A), then the second logged in again, which replaced the
    // shared cookie with session B's. The first tab still holds A's access token and logs out.
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const tabA = await loginWithCookie(email);
    const tabB = await loginWithCookie(email);

    const answer = await post('mutation { logout }', { cookie: tabB.cookie, token: tabA.accessToken });
    expect(answer.body).toEqual({ data: { logout: true } });
    expect(answer.cookies).toEqual([`${COOKIE}=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict`]);

    // The browser no longer holds B's refresh token: B must not live on unseen in the device list.
    for (const tab of [tabA, tabB]) {
      expect(codes(await t.gql('{ me { id } }', {}, { token: tab.accessToken }))).toEqual(['SESSION_REVOKED']);
    }
    const refreshB = await t.gql('mutation ($t: String) { refresh(refreshToken: $t) { accessToken } }', { t: tabB.cookie });
    expect(codes(refreshB)).toEqual(['INVALID_REFRESH_TOKEN']);
    const other = await login(t.gql, { email });
    const live = await t.gql<{ mySessions: { id: string }[] }>('{ mySessions { id } }', {}, { token: other.accessToken });
    expect(live.data!.mySessions.map((session) => session.id)).not.toContain(tabB.sessionId);
  });

  it("ends only the access token's session when the cookie is of that same session", async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const tab = await loginWithCookie(email);
    const answer = await post('mutation { logout }', { cookie: tab.cookie, token: tab.accessToken });
    expect(answer.body).toEqual({ data: { logout: true } });
    expect(codes(await t.gql('{ me { id } }', {}, { token: tab.accessToken }))).toEqual(['SESSION_REVOKED']);
  });
});

describe('the refresh cookie on paths the contract tests did not cover', () => {
  const REFRESH = JSON.stringify({ query: 'mutation { refresh { accessToken refreshToken } }' });
  const send = (init: { contentType: string; origin: string; cookie: string; accept?: string; body?: string }) =>
    t.app.yoga.fetch(`${SERVER}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': init.contentType,
        accept: init.accept ?? 'application/json',
        origin: init.origin,
        cookie: `${COOKIE}=${init.cookie}`,
      },
      body: init.body ?? REFRESH,
    });

  it('refuses a multipart body (a cross-site form can send one) with 415 before anything runs: the cookie stays unspent', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const { cookie } = await loginWithCookie(email);
    const body = `--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${REFRESH}\r\n--x--\r\n`;
    const response = await send({ contentType: 'multipart/form-data; boundary=x', origin: 'https://evil.example', cookie, body });
    expect(response.status).toBe(415);
    expect(response.headers.getSetCookie()).toEqual([]);
    const after = await post('mutation { refresh { refreshToken } }', { cookie });
    expect(after.body).toEqual({ data: { refresh: { refreshToken: null } } });
  });

  it('over SSE (Accept: text/event-stream) checks the Origin as over JSON, and a refresh answers refreshToken null', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const { cookie } = await loginWithCookie(email);
    const refused = await send({ contentType: 'application/json', accept: 'text/event-stream', origin: 'https://evil.example', cookie });
    expect(await refused.text()).toContain('"code":"ORIGIN_NOT_ALLOWED"');
    expect(refused.headers.getSetCookie()).toEqual([]);

    const answered = await send({ contentType: 'application/json', accept: 'text/event-stream', origin: SERVER, cookie });
    expect(await answered.text()).toContain('"refreshToken":null');
    expect(answered.headers.getSetCookie()).toEqual([expect.stringMatching(new RegExp(`^${COOKIE}=[A-Za-z0-9_-]{43}; Max-Age=\\d+; Path=/; HttpOnly; Secure; SameSite=Strict$`))]);
  });
});

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

describe('WebSocket upgrades and their Origin (cross-site WebSocket hijacking)', () => {
  let url: string;
  beforeAll(async () => {
    url = (await t.app.start()).url;
  });

  /**
   * Opens a graphql-ws socket as a page on `origin` would (or an app, without one). With `query`, runs
   * it once acknowledged and resolves with its error codes; else with 'ack' or the refusal's HTTP status.
   */
  function handshake(
    origin: string | undefined,
    options: { token?: string; cookie?: string; query?: string } = {},
  ): Promise<'ack' | number | string | (string | undefined)[]> {
    return new Promise((resolve) => {
      const headers: Record<string, string> = options.cookie ? { cookie: `${COOKIE}=${options.cookie}` } : {};
      const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { origin, headers });
      socket.on('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
        socket.terminate();
      });
      socket.on('open', () =>
        socket.send(JSON.stringify({ type: 'connection_init', payload: options.token ? { authorization: `Bearer ${options.token}` } : {} })),
      );
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; payload?: { errors?: { extensions?: { code?: string } }[] } };
        if (message.type === 'connection_ack' && options.query) {
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: options.query } }));
          return;
        }
        if (message.type === 'next' || message.type === 'error') {
          const errors = message.type === 'next' ? message.payload?.errors : (message.payload as unknown as { extensions?: { code?: string } }[]);
          resolve((errors ?? []).map((error) => error.extensions?.code));
        } else resolve(message.type === 'connection_ack' ? 'ack' : message.type);
        socket.close();
      });
      socket.on('close', (code) => resolve(`closed ${code}`));
      socket.on('error', () => {});
    });
  }

  it.each([
    ['another site', 'https://evil.example'],
    ['a sibling origin on another port', 'http://127.0.0.1:1'],
    ['the opaque origin "null" (a sandboxed frame)', 'null'],
    ['a listed origin with a trailing slash', `${LISTED_ORIGIN}/`],
  ])('refuses the upgrade from a page on %s with 403, token or not', async (_name, origin) => {
    const { accessToken } = await signUp(t.gql);
    expect(await handshake(origin, { token: accessToken })).toBe(403);
  });

  it('accepts it from this server\'s own origin, from a listed origin, and from apps (no Origin)', async () => {
    const { accessToken } = await signUp(t.gql);
    for (const origin of [url, LISTED_ORIGIN, undefined]) {
      expect(await handshake(origin, { token: accessToken })).toBe('ack');
    }
  });

  it('never signs a socket in by the refresh cookie its upgrade carries: without a token it closes 4403', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const { cookie } = await loginWithCookie(email);
    expect(await handshake(url, { cookie })).toBe('closed 4403');
  });

  it('never spends the refresh cookie its upgrade carries: a refresh over the socket sees no cookie', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const { cookie, accessToken } = await loginWithCookie(email);
    expect(await handshake(url, { cookie, token: accessToken, query: 'mutation { refresh { accessToken } }' })).toEqual([
      'INVALID_REFRESH_TOKEN',
    ]);
    // Unspent: the page's own refresh over HTTP still works with it.
    const after = await post('mutation { refresh { refreshToken } }', { cookie });
    expect(after.body).toEqual({ data: { refresh: { refreshToken: null } } });
  });
});

describe('enumerating accounts through signUp', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await createTestApp({ env: { SIGNUP_MAX_PER_IP: '3' } });
  });
  afterAll(() => limited.close());

  it('costs a sign-up attempt per address probed, taken or not, and once the budget is spent says nothing of the next', async () => {
    const taken = await signUp(limited.gql);
    const probe = (email: string) =>
      limited.gql('mutation ($e: String!, $p: String!) { signUp(email: $e, password: $p) { accessToken } }', { e: email, p: PASSWORD });
    // The budget had one sign-up already (the account's own); two probes fit.
    expect(codes(await probe(taken.user.email))).toEqual(['EMAIL_TAKEN']);
    expect(codes(await probe(uniqueEmail()))).toEqual([]);
    for (const email of [taken.user.email, uniqueEmail()]) {
      expect(codes(await probe(email))).toEqual(['RATE_LIMITED']);
    }
  });
});
