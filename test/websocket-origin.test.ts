import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { useStartedApp } from './helpers/app.js';
import { signUp, uniqueEmail } from './helpers/auth-flows.js';
import { APP_ORIGIN, PAGE_ENV, pageClient, REFRESH_COOKIE as COOKIE } from './helpers/page-post.js';

const t = useStartedApp({ env: PAGE_ENV });
const { post, loginWithCookie } = pageClient(t);

describe('WebSocket upgrades and their Origin (cross-site WebSocket hijacking)', () => {
  /**
   * Opens a graphql-ws socket as a page on `origin` would (or an app, without one). With `query`, runs
   * it once acknowledged and resolves with its error codes; else with 'ack' or the refusal's HTTP status.
   */
  function handshake(
    origin: string | undefined,
    options: { token?: string; cookie?: string; query?: string } = {},
  ): Promise<number | string | (string | undefined)[]> {
    return new Promise((resolve) => {
      const headers: Record<string, string> = options.cookie ? { cookie: `${COOKIE}=${options.cookie}` } : {};
      const socket = new WebSocket(`${t.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { origin, headers });
      socket.on('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
        socket.terminate();
      });
      socket.on('open', () =>
        socket.send(JSON.stringify({ type: 'connection_init', payload: options.token ? { authorization: `Bearer ${options.token}` } : {} })),
      );
      socket.on('message', (data) => {
        const message = JSON.parse((data as Buffer).toString('utf8')) as { type: string; payload?: { errors?: { extensions?: { code?: string } }[] } };
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
    ['a listed origin with a trailing slash', `${APP_ORIGIN}/`],
  ])('refuses the upgrade from a page on %s with 403, token or not', async (_name, origin) => {
    const { accessToken } = await signUp(t.gql);
    expect(await handshake(origin, { token: accessToken })).toBe(403);
  });

  it('accepts it from this server\'s own origin, from a listed origin, and from apps (no Origin)', async () => {
    const { accessToken } = await signUp(t.gql);
    for (const origin of [t.url, APP_ORIGIN, undefined]) {
      expect(await handshake(origin, { token: accessToken })).toBe('ack');
    }
  });

  it('never signs a socket in by the refresh cookie its upgrade carries: without a token it closes 4403', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const { cookie } = await loginWithCookie(email);
    expect(await handshake(t.url, { cookie })).toBe('closed 4403');
  });

  it('never spends the refresh cookie its upgrade carries: a refresh over the socket sees no cookie', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const { cookie, accessToken } = await loginWithCookie(email);
    expect(await handshake(t.url, { cookie, token: accessToken, query: 'mutation { refresh { accessToken } }' })).toEqual([
      'INVALID_REFRESH_TOKEN',
    ]);
    // Unspent: the page's own refresh over HTTP still works with it.
    const after = await post('mutation { refresh { refreshToken } }', { cookie });
    expect(after.body).toEqual({ data: { refresh: { refreshToken: null } } });
  });
});
