import type { Authentication, Viewer } from '../auth/authentication.js';
import type { AuthService } from '../auth/service.js';
import type { ClientInfo } from '../auth/sessions.js';
import { AuthError } from '../errors.js';
import type { RevocationFeed } from '../events/revocation-feed.js';
import type { RefreshCookieJar } from './refresh-cookie.js';

/** What every resolver receives; built once per operation by the same factory over HTTP and WebSocket. */
export interface GraphQLContext {
  readonly auth: AuthService;
  readonly authentication: Authentication;
  readonly viewer: Viewer | null;
  readonly client: ClientInfo;
  readonly revocationFeed: RevocationFeed;
  /** The refresh token's HttpOnly cookie (TokenDelivery COOKIE); not writable over graphql-ws. */
  readonly refreshCookie: RefreshCookieJar;
}

export type SignedInContext = GraphQLContext & { readonly viewer: Viewer };

export async function createContext(input: {
  auth: AuthService;
  revocationFeed: RevocationFeed;
  authorization: string | null | undefined;
  client: ClientInfo;
  refreshCookie: RefreshCookieJar;
}): Promise<GraphQLContext> {
  const authentication = await input.auth.authenticate(input.authorization);
  return {
    auth: input.auth,
    authentication,
    viewer: authentication.kind === 'signed-in' ? authentication.viewer : null,
    client: input.client,
    revocationFeed: input.revocationFeed,
    refreshCookie: input.refreshCookie,
  };
}

/** The error a field that requires a signed-in user answers with, saying why there is none. */
export function notSignedInError(authentication: Authentication): AuthError {
  return new AuthError(authentication.kind === 'refused' ? authentication.code : 'UNAUTHENTICATED');
}
