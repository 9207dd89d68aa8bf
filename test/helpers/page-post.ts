import type { TestApp } from './app.js';

/** The refresh token's cookie (TokenDelivery COOKIE). */
export const REFRESH_COOKIE = '__Host-tidepass-refresh';

/**
 * A GraphQL POST as a browser page sends it: with an Origin (the server's own unless another is given;
 * null for none), the refresh cookie when given, and optionally an access token.
 */
export async function pagePost(
  app: TestApp,
  server: string,
  query: string,
  options: { origin?: string | null; cookie?: string; token?: string; variables?: Record<string, unknown>; accept?: string } = {},
): Promise<Response> {
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
