import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { checkedAddresses, hostOf, RefusedDestination, type Resolve } from './url-policy.js';

export interface PostResult {
  /** The response status, or null when there was none (refused, unreachable, timed out). */
  readonly status: number | null;
  /** What went wrong, for the delivery's last error and the log; never the body or the secret. */
  readonly error: string | null;
}

/**
 * POSTs `body` to `url` and reports the status. The connection goes only to addresses checked at
 * that moment: the check is the connection's own DNS lookup, so a name rebound to a private address
 * after the endpoint was created (or between a check and the connection) is refused. Redirects are
 * not followed (a redirect could lead anywhere); the response body is not read.
 */
export function postJson(
  url: URL,
  body: string,
  headers: Record<string, string>,
  options: { timeoutMs: number; allowPrivate: boolean; resolve: Resolve },
): Promise<PostResult> {
  return new Promise((settle) => {
    let settled = false;
    const done = (result: PostResult) => {
      if (settled) return;
      settled = true;
      settle(result);
    };
    const lookup = guardedLookup(options);
    const requestOptions: RequestOptions = {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      lookup,
      agent: false,
      signal: AbortSignal.timeout(options.timeoutMs),
    };
    // An IP literal is never looked up by the socket: checked here instead.
    checkedAddresses(hostOf(url), options.allowPrivate, options.resolve).then(
      () => {
        const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, requestOptions, (response) => {
          const status = response.statusCode ?? 0;
          response.destroy();
          done({ status, error: status >= 200 && status < 300 ? null : `HTTP ${status}` });
        });
        request.on('error', (error) => done({ status: null, error: describe(error, options.timeoutMs) }));
        request.end(body);
      },
      (error: unknown) => done({ status: null, error: describe(error, options.timeoutMs) }),
    );
  });
}

function guardedLookup(options: { allowPrivate: boolean; resolve: Resolve }): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    checkedAddresses(hostname, options.allowPrivate, options.resolve).then(
      (addresses: LookupAddress[]) => {
        if (lookupOptions.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, '', 0),
    );
  };
}

function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof RefusedDestination) return `refused: ${error.message}`;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no response within ${timeoutMs} ms`;
  }
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'request failed';
}
