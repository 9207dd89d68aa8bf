import { createGraphQLError, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import type { Claims } from './token-rules.js';
import type { Verifier, VerifyFailureCode, VerifyResult } from './verifier.js';

/** What the plugin adds to the context: null for a request without credentials. */
export interface TidepassAuthContext {
  readonly tidepass: VerifyResult | null;
}

/**
 * Verifies `Authorization: Bearer <token>` (or graphql-ws's `connectionParams.authorization`) once
 * per operation and puts the result in the context. It refuses nothing by itself: a resolver that
 * needs a signed-in user calls `requireTidepassClaims(context)`.
 */
export function useTidepassAuth(verifier: Verifier): Plugin<TidepassAuthContext> {
  return {
    async onContextBuilding({ context, extendContext }) {
      const initial = context as Partial<YogaInitialContext> & { connectionParams?: Record<string, unknown> };
      const fromParams = initial.connectionParams?.authorization;
      const authorization =
        initial.request?.headers.get('authorization') ?? (typeof fromParams === 'string' ? fromParams : null);
      extendContext({ tidepass: await verifier.authenticate(authorization) });
    },
  };
}

const STATUS: Record<VerifyFailureCode | 'UNAUTHENTICATED', number> = {
  UNAUTHENTICATED: 401,
  INVALID_TOKEN: 401,
  TOKEN_EXPIRED: 401,
  SESSION_REVOKED: 401,
  VERIFIER_UNAVAILABLE: 503,
};

/**
 * The verified claims, or a GraphQL error whose `extensions.code` says why there are none
 * (UNAUTHENTICATED without a token) and whose HTTP status is 401, or 503 for VERIFIER_UNAVAILABLE.
 */
export function requireTidepassClaims(context: TidepassAuthContext): Claims {
  const result = context.tidepass;
  if (result?.ok) return result.claims;
  const code = result ? result.code : 'UNAUTHENTICATED';
  throw createGraphQLError(code === 'VERIFIER_UNAVAILABLE' ? 'Authentication is unavailable' : 'Not signed in', {
    extensions: { code, http: { status: STATUS[code] } },
  });
}
