import { expect } from 'vitest';
import type { TestApp } from './app.js';
import { PASSWORD, uniqueEmail } from './auth-flows.js';

/** The refresh token's cookie (TokenDelivery COOKIE). */
export const REFRESH_COOKIE = '__Host-tidepass-refresh';

/** The Set-Cookie header that clears the refresh cookie. */
export const CLEARED_COOKIE = `${REFRESH_COOKIE}=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict`;

export interface PageOptions {
  origin?: string | null;
  cookie?: string;
  token?: string;
  variables?: Record<string, unknown>;
  accept?: string;
}

/**
 * A GraphQL POST as a browser page sends it: with an Origin (the server's own unless another is given;
 * null for none), the refresh cookie when given, and optionally an access token.
 */
export async function pagePost(app: TestApp, server: string, query: string, options: PageOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.accept) headers['accept'] = options.accept;
  const origin = options.origin === undefined ? server : options.origin;
  if (origin) headers['origin'] = origin;
  if (options.cookie) headers['cookie'] = `${REFRESH_COOKIE}=${options.cookie}`;
  if (options.token) headers['authorization'] = `Bearer ${options.token}`;
  return app.app.yoga.fetch(`${server}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables: options.variables ?? {} }),
  });
}

export interface PageAnswer {
  status: number;
  body: { data?: Record<string, any> | null; errors?: { extensions?: { code?: string } }[] };
  headers: Headers;
  /** The Set-Cookie headers of the response. */
  cookies: string[];
}

/** pagePost as JSON, read: status, body, headers and the cookies set. */
export async function pageAnswer(app: TestApp, server: string, query: string, options: PageOptions = {}): Promise<PageAnswer> {
  const response = await pagePost(app, server, query, { accept: 'application/json', ...options });
  return {
    status: response.status,
    body: (await response.json()) as PageAnswer['body'],
    headers: response.headers,
    cookies: response.headers.getSetCookie(),
  };
}

export const codesOf = (answer: PageAnswer) => (answer.body.errors ?? []).map((error) => error.extensions?.code);

/** Expects exactly one refresh cookie with every attribute and this Max-Age, and returns its token. */
export function expectCookieToken(answer: PageAnswer, maxAge: number): string {
  expect(answer.cookies).toHaveLength(1);
  const match = new RegExp(
    `^${REFRESH_COOKIE}=([A-Za-z0-9_-]{43}); Max-Age=${maxAge}; Path=/; HttpOnly; Secure; SameSite=Strict$`,
  ).exec(answer.cookies[0]!);
  expect(match, answer.cookies[0]).not.toBeNull();
  return match![1]!;
}

export function expectCleared(answer: PageAnswer): void {
  expect(answer.cookies).toEqual([CLEARED_COOKIE]);
}

/** The server's own origin as the in-process requests name it. */
export const SERVER = 'http://localhost:4000';
/** A cross-origin app listed in CORS_ORIGINS. */
export const APP_ORIGIN = 'https://app.example';
/** An app for browser pages: APP_ORIGIN and a dev server in CORS_ORIGINS. */
export const PAGE_ENV = { CORS_ORIGINS: `${APP_ORIGIN}, http://localhost:5173`, REFRESH_REUSE_GRACE: '10' };

export const COOKIE_AUTH_FIELDS = 'accessToken refreshToken refreshTokenExpiresAt session { id }';
/** refresh() without an argument: the cookie's token. */
export const COOKIE_REFRESH = `mutation { refresh { ${COOKIE_AUTH_FIELDS} } }`;

/** A browser page on this app: its POST, and sign-ins with COOKIE delivery as its cookie jar holds them. */
export function pageClient(app: TestApp) {
  const post = (query: string, options: PageOptions = {}) => pageAnswer(app, SERVER, query, options);
  async function withCookie(mutation: 'signUp' | 'login', email: string) {
    const answer = await post(
      `mutation ($email: String!, $password: String!) {
        ${mutation}(email: $email, password: $password, delivery: COOKIE) { ${COOKIE_AUTH_FIELDS} } }`,
      { variables: { email, password: PASSWORD } },
    );
    expect(answer.body.errors).toBeUndefined();
    const payload = answer.body.data![mutation];
    // A new session's cookie lives until the idle timeout (7 days), before the absolute end (30 days).
    const cookie = expectCookieToken(answer, 604_800);
    return { cookie, accessToken: payload.accessToken as string, sessionId: payload.session.id as string, email };
  }
  return {
    post,
    signUpWithCookie: () => withCookie('signUp', uniqueEmail('cookie')),
    loginWithCookie: (email: string) => withCookie('login', email),
  };
}
