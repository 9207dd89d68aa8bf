import type { IncomingMessage } from 'node:http';
import { transportRefusals } from '../errors.js';
import { originMayCall } from '../graphql/http-security.js';

type VerifyDone = (verified: boolean, code?: number, message?: string) => void;
type VerifyInfo = { origin: string | undefined; req: IncomingMessage };

/**
 * `ws`'s verifyClient: a browser page on an origin that may not call the API over HTTP (CORS) may not
 * open a socket either, refused with 403 before the upgrade. Nothing on this path reads cookies, so
 * this is defence in depth. No Origin at all is an app, not a browser (browsers always send one).
 */
export function verifyUpgradeOrigin(corsOrigins: readonly string[]) {
  return ({ origin, req }: VerifyInfo, done: VerifyDone): void => {
    if (origin === undefined || upgradeOriginAllowed(origin, req.headers.host, corsOrigins)) return done(true);
    done(false, 403, transportRefusals.ORIGIN_NOT_ALLOWED);
  };
}

function upgradeOriginAllowed(origin: string, host: string | undefined, corsOrigins: readonly string[]): boolean {
  if (!host) return false;
  try {
    return originMayCall(origin, new URL(`http://${host}`).host, corsOrigins);
  } catch {
    return false;
  }
}
