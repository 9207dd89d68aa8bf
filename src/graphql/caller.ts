import type { IncomingMessage } from 'node:http';
import type { ClientInfo } from '../auth/sessions.js';

/**
 * The client's address: the socket's, or behind a proxy (TRUST_PROXY) the last X-Forwarded-For hop,
 * the one our own proxy appended; earlier hops are whatever the client claimed.
 */
export function clientInfo(
  headers: Headers | undefined,
  req: IncomingMessage | undefined,
  trustProxy: boolean,
): ClientInfo {
  const header = (name: string): string | null => {
    if (headers) return headers.get(name);
    const value = req?.headers[name];
    return Array.isArray(value) ? value.join(', ') : (value ?? null);
  };
  const forwarded = trustProxy ? header('x-forwarded-for') : null;
  const fromProxy = forwarded?.split(',').map((hop) => hop.trim()).filter(Boolean).at(-1);
  const ip = fromProxy ?? req?.socket.remoteAddress ?? null;
  return { userAgent: header('user-agent'), ip: ip?.slice(0, 64) ?? null };
}

/** graphql-ws clients send `{ authorization: "Bearer <jwt>" }` in connection_init. */
export function bearerFromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): string | null {
  const value = params?.['authorization'] ?? params?.['Authorization'];
  return typeof value === 'string' ? value : null;
}
