import { createServer } from 'node:http';
import { GraphQLError } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { createVerifier } from '../../packages/verifier/src/index.js';

/**
 * Scenario 6's downstream service (examples/downstream/server.mjs, in TypeScript): `{ me { userId } }`
 * behind @tidepass/verifier (VERIFY_MODE=verifier), or behind a plain jose.jwtVerify against
 * tidepass's keys fetched once (VERIFY_MODE=jose): the same service without revocation.
 */
type Auth = { ok: true; userId: string } | { ok: false; code: string } | null;

const env = process.env;
const tidepassUrl = env.TIDEPASS_URL!;
const issuer = env.JWT_ISSUER ?? 'http://localhost:4000';
const audience = env.JWT_AUDIENCE ?? 'tidepass';

async function verifierAuth(): Promise<(authorization: string | null) => Promise<Auth>> {
  const verifier = createVerifier({ url: tidepassUrl, issuer, audience, feedKey: env.FEED_KEY!, maxStaleness: 5_000 });
  await verifier.ready();
  return async (authorization) => {
    const result = await verifier.authenticate(authorization);
    if (!result) return null;
    return result.ok ? { ok: true, userId: result.claims.userId } : result;
  };
}

async function joseAuth(): Promise<(authorization: string | null) => Promise<Auth>> {
  const jwks = (await (await fetch(`${tidepassUrl}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
  const key = createLocalJWKSet(jwks);
  return async (authorization) => {
    const match = authorization ? /^Bearer +(\S+) *$/i.exec(authorization) : null;
    if (!match) return authorization ? { ok: false, code: 'INVALID_TOKEN' } : null;
    try {
      const { payload } = await jwtVerify(match[1]!, key, { issuer, audience, algorithms: ['ES256'], typ: 'at+jwt' });
      return { ok: true, userId: String(payload.sub) };
    } catch {
      return { ok: false, code: 'INVALID_TOKEN' };
    }
  };
}

const authenticate = env.VERIFY_MODE === 'jose' ? await joseAuth() : await verifierAuth();
const yoga = createYoga<{ auth: Auth }>({
  schema: createSchema<{ auth: Auth }>({
    typeDefs: 'type Viewer { userId: ID! } type Query { me: Viewer! }',
    resolvers: {
      Query: {
        me: (_root, _args, { auth }) => {
          if (auth?.ok) return { userId: auth.userId };
          throw new GraphQLError('Not signed in', { extensions: { code: auth ? auth.code : 'UNAUTHENTICATED' } });
        },
      },
    },
  }),
  context: async ({ request }) => ({ auth: await authenticate(request.headers.get('authorization')) }),
  logging: false,
});
const server = createServer(yoga);
server.listen(Number(env.PORT), env.HOST ?? '127.0.0.1');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
