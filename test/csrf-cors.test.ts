import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { useTestApp, withTestApp } from './helpers/app.js';
import { PASSWORD, signUp, uniqueEmail } from './helpers/auth-flows.js';
import {
  APP_ORIGIN,
  codesOf,
  COOKIE_AUTH_FIELDS,
  COOKIE_REFRESH,
  expectCleared,
  expectCookieToken,
  PAGE_ENV,
  pageClient,
  REFRESH_COOKIE as COOKIE,
  SERVER,
  type PageAnswer,
} from './helpers/page-post.js';

/** Which browser requests may spend the refresh cookie (CSRF), and which origins may read answers (CORS). */

const t = useTestApp({ env: PAGE_ENV });
const { post, signUpWithCookie, loginWithCookie } = pageClient(t);

describe('CSRF', () => {
  it.each([
    ['another origin', 'https://evil.example'],
    ['a sibling origin on another port', 'http://localhost:4001'],
    ['no Origin at all', null],
    ['the opaque origin "null"', 'null'],
  ])('refuses refresh() with the cookie from %s: ORIGIN_NOT_ALLOWED, and the cookie stays unspent', async (_name, origin) => {
    const { cookie } = await signUpWithCookie();
    const answer = await post(COOKIE_REFRESH, { cookie, origin });
    expect(codesOf(answer)).toEqual(['ORIGIN_NOT_ALLOWED']);
    expect(answer.cookies).toEqual([]);
    expectCookieToken(await post(COOKIE_REFRESH, { cookie }), 604_800);
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
    const refreshed = await post(COOKIE_REFRESH, { cookie, origin: APP_ORIGIN });
    const successor = expectCookieToken(refreshed, 604_800);
    expect(refreshed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(refreshed.headers.get('access-control-allow-credentials')).toBe('true');
    const logout = await post('mutation { logout }', { cookie: successor, origin: APP_ORIGIN });
    expect(logout.body.data).toEqual({ logout: true });
    expectCleared(logout);
  });

  it('needs no Origin for a refresh token passed as an argument (apps, not browsers)', async () => {
    const body = await post(`mutation { signUp(email: "${uniqueEmail('app')}", password: "${PASSWORD}") { ${COOKIE_AUTH_FIELDS} } }`, {
      origin: null,
    });
    const answer = await post(`mutation ($token: String) { refresh(refreshToken: $token) { ${COOKIE_AUTH_FIELDS} } }`, {
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
      body: JSON.stringify({ query: COOKIE_REFRESH }),
    });
    expect(response.status).toBe(status);
    expect(((await response.json()) as PageAnswer['body']).errors?.[0]?.extensions?.code).toBe(code);
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
    const response = await t.app.yoga.fetch(`${SERVER}/graphql?query=${encodeURIComponent(COOKIE_REFRESH)}`, {
      headers: { accept: 'application/json', 'x-graphql-yoga-csrf': '1', cookie: `${COOKIE}=${cookie}`, origin: SERVER },
    });
    expect(response.status).toBe(405);
    expect(response.headers.getSetCookie()).toEqual([]);
    expectCookieToken(await post(COOKIE_REFRESH, { cookie }), 604_800);
  });
});

describe('the refresh cookie in multipart and SSE requests', () => {
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
    await withTestApp({ beside: t }, async (closed) => {
      for (const origin of [APP_ORIGIN, 'http://localhost:5173']) {
        const response = await closed.app.yoga.fetch(`${SERVER}/graphql`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST' },
        });
        expect(response.headers.get('access-control-allow-origin')).toBeNull();
      }
    });
  });

  it('lets a listed origin read the response of a credentialed request', async () => {
    const response = await post('{ __typename }', { origin: APP_ORIGIN });
    expect(response.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('access-control-expose-headers')).toBe('x-request-id');
  });
});

describe('CORS_ORIGINS', () => {
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
});
