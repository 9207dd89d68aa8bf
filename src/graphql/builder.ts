import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { AuthError } from '../errors.js';
import { notSignedInError, type GraphQLContext, type SignedInContext } from './context.js';

/** The Pothos builder; types are defined in schema/, one file per type. */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  AuthScopes: { signedIn: boolean; admin: boolean };
  AuthContexts: { signedIn: SignedInContext; admin: SignedInContext };
  Scalars: { DateTime: { Input: Date; Output: Date }; JSON: { Input: unknown; Output: unknown } };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (context) => ({
      signedIn: context.viewer !== null,
      // Deferred (run only for a field that asks for it, once per request) and read from the user's row,
      // never from the token's role claim: a demoted or disabled admin loses the admin API at once.
      admin: async () => context.viewer !== null && (await context.auth.accounts.isAdmin(context.viewer)),
    }),
    // Signed in but not allowed: FORBIDDEN. Otherwise say why there is no viewer (expired, invalid,
    // revoked, none) rather than a generic refusal.
    unauthorizedError: (_parent, context) =>
      context.viewer ? new AuthError('FORBIDDEN') : notSignedInError(context.authentication),
  },
});
