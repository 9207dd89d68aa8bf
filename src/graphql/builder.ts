import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { notSignedInError, type GraphQLContext, type SignedInContext } from './context.js';

/** The Pothos builder; types are defined in schema/, one file per type. */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  AuthScopes: { signedIn: boolean };
  AuthContexts: { signedIn: SignedInContext };
  Scalars: { DateTime: { Input: Date; Output: Date }; JSON: { Input: unknown; Output: unknown } };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (context) => ({ signedIn: context.viewer !== null }),
    // Say why there is no viewer (expired, invalid, revoked, none) rather than a generic refusal.
    unauthorizedError: (_parent, context) => notSignedInError(context.authentication),
  },
});
