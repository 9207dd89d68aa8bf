import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { pagePost, REFRESH_COOKIE as COOKIE } from './helpers/page-post.js';

/**
 * Browser clients over HTTP (yoga.fetch): the refresh token in an HttpOnly cookie, CSRF and CORS,
 * and the headers of HTML responses. test/browser.test.ts drives the same in Chromium.
 */

const SERVER = 'http://localhost:4000';
const APP_ORIGIN = 'https://app.example';
const PASSWORD = 'correct horse battery';
const AUTH_FIELDS = 'accessToken refreshToken refreshTokenExpiresAt session { id }';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { CORS_ORIGINS: `${APP_ORIGIN}, http://localhost:5173`, REFRESH_REUSE_GRACE: '10' } });
});
afterAll(() => t.close());

interface Answer {
  status: number;
  body: { data?: Record<string, any> | null; errors?: { extensions?: { code?: string } }[] };
  headers: Headers;
  /** The Set-Cookie headers of the response. */
  cookies: string[];
}

async function post(
  query: string,
  options: { origin?: string | null; cookie?: string; token?: string; variables?: Record<string, unknown> } = {},
): Promise<Answer> {
  // Browsers send Origin on every POST; same-origin by default here.
  const response = await pagePost(t, SERVER, query, { ...options, accept: 'application/json' });
  return {
    status: response.status,
    body: (await response.json()) as Answer['body'],
    headers: response.headers,
    cookies: response.headers.getSetCookie(),
  };
}

const codesOf = (answer: Answer) => (answer.body.errors ?? []).map((error) => error.extensions?.code);

/** The token a Set-Cookie header carries, after checking all its attributes. */
function tokenOf(answer: Answer, maxAge: number): string {
  expect(answer.cookies).toHaveLength(1);
  const match = new RegExp(
    `^${COOKIE}=([A-Za-z0-9_-]{43}); Max-Age=${maxAge}; Path=/; HttpOnly; Secure; SameSite=Strict$`,
  ).exec(answer.cookies[0]!);
  expect(match, answer.cookies[0]).not.toBeNull();
  return match![1]!;
}

function expectCleared(answer: Answer): void {
  expect(answer.cookies).toEqual([`${COOKIE}=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict`]);
}

let emails = 0;
async function signUpWithCookie(): Promise<{ cookie: string; accessToken: string; sessionId: string; email: string }> {
  const email = `cookie-${++emails}@example.com`;
  const answer = await post(
    `mutation ($email: String!) { signUp(email: $email, password: "${PASSWORD}", delivery: COOKIE) { ${AUTH_FIELDS} } }`,
    { variables: { email } },
  );
  expect(answer.body.errors).toBeUndefined();
  const payload = answer.body.data!['signUp'];
  // Default idle timeout (7 days) comes before the absolute end (30 days).
  return { cookie: tokenOf(answer, 604_800), accessToken: payload.accessToken, sessionId: payload.session.id, email };
}

const REFRESH = `mutation { refresh { ${AUTH_FIELDS} } }`;

describe('TokenDelivery COOKIE', () => {
  it('sets the refresh token as a __Host- cookie (HttpOnly, Secure, SameSite=Strict, Path=/) and returns refreshToken null', async () => {
    const email = `delivery-${++emails}@example.com`;
    const signUp = await post(
      `mutation ($email: String!) { signUp(email: $email, password: "${PASSWORD}", delivery: COOKIE) { ${AUTH_FIELDS} } }`,
      { variables: { email } },
    );
    expect(signUp.body.data!['signUp'].refreshToken).toBeNull();
    tokenOf(signUp, 604_800);

    const login = await post(
      `mutation ($email: String!) { login(email: $email, password: "${PASSWORD}", delivery: COOKIE) { ${AUTH_FIELDS} } }`,
      { variables: { email } },
    );
    expect(login.body.data!['login'].refreshToken).toBeNull();
    tokenOf(login, 604_800);
  });

  it('sets no cookie with the default delivery, BODY', async () => {
    const answer = await post(`mutation { signUp(email: "body-${++emails}@example.com", password: "${PASSWORD}") { ${AUTH_FIELDS} } }`);
    expect(answer.body.data!['signUp'].refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(answer.cookies).toEqual([]);
  });

  it('gives the cookie a Max-Age up to the session end: the idle end, then the absolute end once it is nearer', async () => {
    let { cookie } = await signUpWithCookie();
    for (let refreshes = 0; refreshes < 3; refreshes++) {
      t.clock.advance(6 * 86_400);
      cookie = tokenOf(await post(REFRESH, { cookie }), 604_800);
    }
    // Day 24 of the absolute 30: six days are left, less than the idle timeout's seven.
    t.clock.advance(6 * 86_400);
    tokenOf(await post(REFRESH, { cookie }), 6 * 86_400);
  });

  it('refresh() without an argument spends the cookie and sets its successor', async () => {
    const { cookie } = await signUpWithCookie();
    t.clock.advance(60);
    const answer = await post(REFRESH, { cookie });
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data!['refresh'].refreshToken).toBeNull();
    const successor = tokenOf(answer, 604_800);
    expect(successor).not.toBe(cookie);
    const me = await post('{ me { id } }', { token: answer.body.data!['refresh'].accessToken });
    expect(me.body.errors).toBeUndefined();
    // The successor works in turn.
    t.clock.advance(60);
    tokenOf(await post(REFRESH, { cookie: successor }), 604_800);
  });

  it('an argument wins over the cookie, and keeps BODY delivery', async () => {
    const inCookie = await signUpWithCookie();
    const body = await post(`mutation { signUp(email: "both-${++emails}@example.com", password: "${PASSWORD}") { ${AUTH_FIELDS} } }`);
    const answer = await post(`mutation ($token: String) { refresh(refreshToken: $token) { ${AUTH_FIELDS} } }`, {
      cookie: inCookie.cookie,
      variables: { token: body.body.data!['signUp'].refreshToken },
    });
    expect(answer.body.data!['refresh'].refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(answer.body.data!['refresh'].session.id).toBe(body.body.data!['signUp'].session.id);
    expect(answer.cookies).toEqual([]);
  });

  it('a reused cookie ends the session with REFRESH_TOKEN_REUSED and clears the cookie', async () => {
    const { cookie, accessToken } = await signUpWithCookie();
    await post(REFRESH, { cookie });
    t.clock.advance(11);
    const reused = await post(REFRESH, { cookie });
    expect(codesOf(reused)).toEqual(['REFRESH_TOKEN_REUSED']);
    expectCleared(reused);
    expect(codesOf(await post('{ me { id } }', { token: accessToken }))).toEqual(['SESSION_REVOKED']);
  });

  it('a refresh within the grace window is REFRESH_TOKEN_ROTATED and leaves the cookie alone', async () => {
    const { cookie } = await signUpWithCookie();
    await post(REFRESH, { cookie });
    const again = await post(REFRESH, { cookie });
    expect(codesOf(again)).toEqual(['REFRESH_TOKEN_ROTATED']);
    expect(again.cookies).toEqual([]);
  });

  it('a refresh of a session that was revoked elsewhere is INVALID_REFRESH_TOKEN and clears the cookie', async () => {
    const browser = await signUpWithCookie();
    const other = await post(
      `mutation ($email: String!) { login(email: $email, password: "${PASSWORD}") { ${AUTH_FIELDS} } }`,
      { variables: { email: browser.email } },
    );
    await post(`mutation { revokeDevice(sessionId: "${browser.sessionId}") }`, { token: other.body.data!['login'].accessToken });
    const answer = await post(REFRESH, { cookie: browser.cookie });
    expect(codesOf(answer)).toEqual(['INVALID_REFRESH_TOKEN']);
    expectCleared(answer);
  });

  it('a refresh past the session end is INVALID_REFRESH_TOKEN and clears the cookie', async () => {
    const { cookie } = await signUpWithCookie();
    t.clock.advance(604_801);
    const answer = await post(REFRESH, { cookie });
    expect(codesOf(answer)).toEqual(['INVALID_REFRESH_TOKEN']);
    expectCleared(answer);
  });

  it('refresh() with neither argument nor cookie is INVALID_REFRESH_TOKEN and sets no cookie', async () => {
    const answer = await post(REFRESH);
    expect(codesOf(answer)).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(answer.cookies).toEqual([]);
  });

  it('logout() without an argument ends the cookie\'s session and clears the cookie', async () => {
    const { cookie, accessToken } = await signUpWithCookie();
    const answer = await post('mutation { logout }', { cookie });
    expect(answer.body.data).toEqual({ logout: true });
    expectCleared(answer);
    expect(codesOf(await post('{ me { id } }', { token: accessToken }))).toEqual(['SESSION_REVOKED']);
    expect(codesOf(await post(REFRESH, { cookie }))).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('logout() with the access token also clears the cookie', async () => {
    const { cookie, accessToken } = await signUpWithCookie();
    const answer = await post('mutation { logout }', { cookie, token: accessToken });
    expect(answer.body.data).toEqual({ logout: true });
    expectCleared(answer);
    expect(codesOf(await post(REFRESH, { cookie }))).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('a login over an existing cookie ends the session the replaced cookie belonged to', async () => {
    const first = await signUpWithCookie();
    const answer = await post(
      `mutation ($email: String!) { login(email: $email, password: "${PASSWORD}", delivery: COOKIE) { ${AUTH_FIELDS} } }`,
      { cookie: first.cookie, variables: { email: first.email } },
    );
    expect(answer.body.errors).toBeUndefined();
    const replacement = tokenOf(answer, 604_800);
    // Nobody holds the replaced cookie any more: its session must not live on unseen.
    expect(codesOf(await post('{ me { id } }', { token: first.accessToken }))).toEqual(['SESSION_REVOKED']);
    expect(codesOf(await post(REFRESH, { cookie: first.cookie }))).toEqual(['INVALID_REFRESH_TOKEN']);
    const sessions = await post('{ mySessions { id } }', { token: answer.body.data!['login'].accessToken });
    expect(sessions.body.data!['mySessions']).toEqual([{ id: answer.body.data!['login'].session.id }]);
    t.clock.advance(60);
    tokenOf(await post(REFRESH, { cookie: replacement }), 604_800);
  });

  it('a login with BODY delivery leaves the cookie and its session alone', async () => {
    const first = await signUpWithCookie();
    const answer = await post(
      `mutation ($email: String!) { login(email: $email, password: "${PASSWORD}") { ${AUTH_FIELDS} } }`,
      { cookie: first.cookie, variables: { email: first.email } },
    );
    expect(answer.body.errors).toBeUndefined();
    expect(answer.cookies).toEqual([]);
    expect(codesOf(await post('{ me { id } }', { token: first.accessToken }))).toEqual([]);
  });

  it('changePassword with COOKIE delivery replaces the cookie with the successor', async () => {
    const { accessToken } = await signUpWithCookie();
    const answer = await post(
      `mutation { changePassword(currentPassword: "${PASSWORD}", newPassword: "another horse battery", delivery: COOKIE) { ${AUTH_FIELDS} } }`,
      { token: accessToken },
    );
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data!['changePassword'].refreshToken).toBeNull();
    const successor = tokenOf(answer, 604_800);
    t.clock.advance(60);
    tokenOf(await post(REFRESH, { cookie: successor }), 604_800);
  });
});

describe('CSRF', () => {
  it.each([
    ['another origin', 'https://evil.example'],
    ['a sibling origin on another port', 'http://localhost:4001'],
    ['no Origin at all', null],
    ['the opaque origin "null"', 'null'],
  ])('refuses refresh() with the cookie from %s: ORIGIN_NOT_ALLOWED, and the cookie stays unspent', async (_name, origin) => {
    const { cookie } = await signUpWithCookie();
    const answer = await post(REFRESH, { cookie, origin });
    expect(codesOf(answer)).toEqual(['ORIGIN_NOT_ALLOWED']);
    expect(answer.cookies).toEqual([]);
    tokenOf(await post(REFRESH, { cookie }), 604_800);
  });

  it('refuses logout() with the cookie from an origin not allowed: ORIGIN_NOT_ALLOWED, and the session lives', async () => {
    const { cookie, accessToken } = await signUpWithCookie();
    const answer = await post('mutation { logout }', { cookie, origin: 'https://evil.example' });
    expect(codesOf(answer)).toEqual(['ORIGIN_NOT_ALLOWED']);
    expect(answer.cookies).toEqual([]);
    expect((await post('{ me { id } }', { token: accessToken })).body.errors).toBeUndefined();
  });

  it('accepts refresh() and logout() with the cookie from an origin in CORS_ORIGINS', async () => {
    const { cookie } = await signUpWithCookie();
    const refreshed = await post(REFRESH, { cookie, origin: APP_ORIGIN });
    const successor = tokenOf(refreshed, 604_800);
    expect(refreshed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(refreshed.headers.get('access-control-allow-credentials')).toBe('true');
    const logout = await post('mutation { logout }', { cookie: successor, origin: APP_ORIGIN });
    expect(logout.body.data).toEqual({ logout: true });
    expectCleared(logout);
  });

  it('needs no Origin for a refresh token passed as an argument (apps, not browsers)', async () => {
    const body = await post(`mutation { signUp(email: "app-${++emails}@example.com", password: "${PASSWORD}") { ${AUTH_FIELDS} } }`, {
      origin: null,
    });
    const answer = await post(`mutation ($token: String) { refresh(refreshToken: $token) { ${AUTH_FIELDS} } }`, {
      origin: null,
      variables: { token: body.body.data!['signUp'].refreshToken },
    });
    expect(answer.body.errors).toBeUndefined();
  });

  it.each([
    ['text/plain', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['application/x-www-form-urlencoded', 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ])('refuses a POST a cross-site form could send (%s) before anything runs', async (type, status, code) => {
    const { cookie } = await signUpWithCookie();
    const response = await t.app.yoga.fetch(`${SERVER}/graphql`, {
      method: 'POST',
      headers: { 'content-type': type, origin: 'https://evil.example', cookie: `${COOKIE}=${cookie}` },
      body: JSON.stringify({ query: REFRESH }),
    });
    expect(response.status).toBe(status);
    expect(((await response.json()) as Answer['body']).errors?.[0]?.extensions?.code).toBe(code);
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it('refuses a GET without the x-graphql-yoga-csrf header with 403 CSRF_HEADER_REQUIRED, and answers one with it', async () => {
    const url = `${SERVER}/graphql?query=${encodeURIComponent('{ __typename }')}`;
    const refused = await t.app.yoga.fetch(url, { headers: { accept: 'application/json' } });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({
      errors: [{ message: expect.any(String), extensions: { code: 'CSRF_HEADER_REQUIRED' } }],
    });
    const answered = await t.app.yoga.fetch(url, { headers: { accept: 'application/json', 'x-graphql-yoga-csrf': '1' } });
    expect(await answered.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('never runs a mutation over GET, even with the CSRF header: 405 BAD_REQUEST', async () => {
    const { cookie } = await signUpWithCookie();
    const response = await t.app.yoga.fetch(`${SERVER}/graphql?query=${encodeURIComponent(REFRESH)}`, {
      headers: { accept: 'application/json', 'x-graphql-yoga-csrf': '1', cookie: `${COOKIE}=${cookie}`, origin: SERVER },
    });
    expect(response.status).toBe(405);
    expect(response.headers.getSetCookie()).toEqual([]);
    tokenOf(await post(REFRESH, { cookie }), 604_800);
  });
});

describe('CORS', () => {
  const preflight = (origin: string, headers = 'content-type, authorization') =>
    t.app.yoga.fetch(`${SERVER}/graphql`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers },
    });

  it('answers a preflight from an origin in CORS_ORIGINS with 204 and exactly the CORS headers', async () => {
    const response = await preflight(APP_ORIGIN);
    expect(response.status).toBe(204);
    const cors = Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-') || name === 'vary'));
    expect(cors).toEqual({
      'access-control-allow-origin': APP_ORIGIN,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'authorization, content-type, x-graphql-yoga-csrf, x-request-id',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
    expect(await response.text()).toBe('');
  });

  it('answers every listed origin with itself, never *', async () => {
    const response = await preflight('http://localhost:5173');
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
  });

  it.each(['https://evil.example', 'https://app.example.evil.example', 'http://app.example', 'https://APP.example'])(
    'gives a preflight or request from %s no CORS header at all',
    async (origin) => {
      const response = await preflight(origin);
      expect(response.status).toBe(204);
      expect([...response.headers].filter(([name]) => name.startsWith('access-control-'))).toEqual([]);
      expect(response.headers.get('vary')).toBe('Origin');
      const request = await post('{ __typename }', { origin });
      expect(request.headers.get('access-control-allow-origin')).toBeNull();
      expect(request.headers.get('access-control-allow-credentials')).toBeNull();
    },
  );

  it('allows no cross-origin caller by default (CORS_ORIGINS unset)', async () => {
    const closed = await createTestApp({ clock: t.clock, database: t.database });
    try {
      for (const origin of [APP_ORIGIN, 'http://localhost:5173']) {
        const response = await closed.app.yoga.fetch(`${SERVER}/graphql`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST' },
        });
        expect(response.headers.get('access-control-allow-origin')).toBeNull();
      }
    } finally {
      await closed.close();
    }
  });

  it('lets a listed origin read the response of a credentialed request', async () => {
    const response = await post('{ __typename }', { origin: APP_ORIGIN });
    expect(response.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('access-control-expose-headers')).toBe('x-request-id');
  });
});

describe('HTML responses', () => {
  const get = (app: TestApp, path: string, accept = 'text/html') =>
    app.app.yoga.fetch(`${SERVER}${path}`, { headers: { accept } });

  function policyOf(response: Response): Map<string, string> {
    const header = response.headers.get('content-security-policy') ?? '';
    return new Map(header.split(';').map((part) => {
      const [name = '', ...sources] = part.trim().split(/\s+/);
      return [name, sources.join(' ')] as const;
    }));
  }

  it('serves the page at GET / with a CSP that allows only its own script, style and connections', async () => {
    const response = await get(t, '/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await response.text();
    expect(html).toContain('<script type="module" src="/assets/app.js"></script>');
    expect(html).not.toMatch(/<script>|<style>| style=| on[a-z]+=/);
    const policy = policyOf(response);
    expect(policy.get('default-src')).toBe("'none'");
    expect(policy.get('script-src')).toBe("'self'");
    expect(policy.get('style-src')).toBe("'self'");
    expect(policy.get('connect-src')).toBe("'self' ws://localhost:4000");
    expect(policy.get('frame-ancestors')).toBe("'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
  });

  it('answers 503 with what to run, and keeps answering the API, when the page is not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'tidepass-unbuilt-'));
    const unbuilt = await createTestApp({ pageDirectory: pathToFileURL(`${empty}/`) });
    try {
      for (const path of ['/', '/assets/app.js']) {
        const response = await get(unbuilt, path, '*/*');
        expect(response.status, path).toBe(503);
        expect(await response.text()).toBe('The page is not built: run npm run build:web.\n');
      }
      const api = await unbuilt.gql('{ __typename }');
      expect(api.data).toEqual({ __typename: 'Query' });
    } finally {
      await unbuilt.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('serves the page\'s script and styles from the build', async () => {
    const script = await get(t, '/assets/app.js', '*/*');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain('sessionRevoked');
    const styles = await get(t, '/assets/app.css', '*/*');
    expect(styles.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(styles.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('serves GraphiQL with a CSP, loading everything from this server', async () => {
    const response = await get(t, '/graphql');
    const html = await response.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script>/);
    const policy = policyOf(response);
    expect(policy.get('script-src')).toBe("'self'");
    expect(policy.get('worker-src')).toBe("'self'");
    expect(policy.get('frame-ancestors')).toBe("'none'");
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    for (const asset of ['graphiql.js', 'graphiql.css', 'monaco-environment.js', 'start.js', 'editor.worker.js', 'json.worker.js', 'graphql.worker.js']) {
      const served = await get(t, `/graphiql/${asset}`, '*/*');
      expect(served.status, asset).toBe(200);
      await served.arrayBuffer();
    }
  });
});

describe('GraphiQL and introspection in production', () => {
  const INTROSPECTION = '{ __schema { queryType { name } } }';

  async function inProduction(env: Record<string, string>, check: (app: TestApp) => Promise<void>): Promise<void> {
    const app = await createTestApp({ env: { NODE_ENV: 'production', ...env }, clock: t.clock, database: t.database });
    try {
      await check(app);
    } finally {
      await app.close();
    }
  }

  it('are off by default: no GraphiQL HTML or assets, introspection GRAPHQL_VALIDATION_FAILED', async () => {
    await inProduction({}, async (app) => {
      const html = await app.app.yoga.fetch(`${SERVER}/graphql`, { headers: { accept: 'text/html' } });
      expect(await html.text()).not.toContain('<html');
      const asset = await app.app.yoga.fetch(`${SERVER}/graphiql/graphiql.js`);
      expect(asset.status).toBe(404);
      const introspection = await app.gql(INTROSPECTION);
      expect(introspection.errors?.length).toBeGreaterThan(0);
      for (const error of introspection.errors!) expect(error.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(introspection.data).toBeUndefined();
      // Ordinary operations, __typename included, still run.
      expect((await app.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
    });
  });

  it('are on with GRAPHIQL=true', async () => {
    await inProduction({ GRAPHIQL: 'true' }, async (app) => {
      const html = await app.app.yoga.fetch(`${SERVER}/graphql`, { headers: { accept: 'text/html' } });
      expect(await html.text()).toContain('/graphiql/graphiql.js');
      expect((await app.gql(INTROSPECTION)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    });
  });
});

describe('configuration', () => {
  it('reads CORS_ORIGINS as exact origins, comma-separated', () => {
    expect(loadConfig({ CORS_ORIGINS: ' https://a.example ,http://localhost:5173,,https://a.example' }).corsOrigins).toEqual([
      'https://a.example',
      'http://localhost:5173',
    ]);
  });

  it.each(['*', 'https://a.example/', 'https://a.example/app', 'a.example', 'ftp://a.example', 'https://*.example'])(
    'refuses %s in CORS_ORIGINS in one line',
    (value) => {
      expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(/^Invalid configuration:\n {2}CORS_ORIGINS: must be [^\n]+$/);
    },
  );

  it('turns GraphiQL off in production unless GRAPHIQL=true, and on elsewhere unless GRAPHIQL=false', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).graphiql).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', GRAPHIQL: 'true' }).graphiql).toBe(true);
    expect(loadConfig({}).graphiql).toBe(true);
    expect(loadConfig({ GRAPHIQL: 'false' }).graphiql).toBe(false);
    expect(() => loadConfig({ GRAPHIQL: 'sometimes' })).toThrow(/GRAPHIQL: must be true or false/);
  });
});
