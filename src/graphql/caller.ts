import type { IncomingMessage } from 'node:http';
import type { ClientInfo } from '../auth/sessions.js';
import { forwardedClient, type ProxyCheck } from './trusted-proxies.js';

/**
 * The client's address: the socket's, or behind trusted proxies (TRUST_PROXY) the X-Forwarded-For
 * entry that the outermost trusted proxy appended (see trusted-proxies.ts).
 */
export function clientInfo(headers: Headers | undefined, req: IncomingMessage | undefined, trusted: ProxyCheck): ClientInfo {
  const header = (name: string): string | null => {
    if (headers) return headers.get(name);
    const value = req?.headers[name];
    return Array.isArray(value) ? value.join(', ') : (value ?? null);
  };
  const ip = forwardedClient(req?.socket.remoteAddress, header('x-forwarded-for'), trusted);
  return { userAgent: header('user-agent'), ip: ip?.slice(0, 64) ?? null };
}

/** graphql-ws clients send `{ authorization: "Bearer <jwt>" }` in connection_init. */
export function bearerFromConnectionParams(params: Readonly<Record<string, unknown>> | undefined): string | null {
  const value = params?.['authorization'] ?? params?.['Authorization'];
  return typeof value === 'string' ? value : null;
}
