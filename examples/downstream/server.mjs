import { createServer } from 'node:http';
import { createSchema, createYoga } from 'graphql-yoga';
import { createVerifier } from '@tidepass/verifier';
import { requireTidepassClaims, useTidepassAuth } from '@tidepass/verifier/yoga';

/** A downstream GraphQL service: it verifies tidepass's access tokens itself and refuses ended sessions at once. */
export async function startDownstream({ tidepassUrl, issuer, audience, feedKey, port = 4100, host = '127.0.0.1' }) {
  const verifier = createVerifier({ url: tidepassUrl, issuer, audience, feedKey, maxStaleness: 5_000 });
  await verifier.ready();
  const yoga = createYoga({
    schema: createSchema({
      typeDefs: /* GraphQL */ `
        type Viewer { userId: ID!, sessionId: ID!, expiresAt: String! }
        type Query { me: Viewer! }
      `,
      resolvers: {
        Query: {
          me: (_root, _args, context) => {
            const { userId, sessionId, expiresAt } = requireTidepassClaims(context);
            return { userId, sessionId, expiresAt: expiresAt.toISOString() };
          },
        },
      },
    }),
    plugins: [useTidepassAuth(verifier)],
  });
  const server = createServer(yoga);
  await new Promise((resolve) => server.listen(port, host, resolve));
  const { port: bound } = server.address();
  return {
    url: `http://${host}:${bound}`,
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await verifier.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const env = process.env;
  const service = await startDownstream({
    tidepassUrl: env.TIDEPASS_URL ?? 'http://localhost:4000',
    issuer: env.JWT_ISSUER ?? 'http://localhost:4000',
    audience: env.JWT_AUDIENCE ?? 'tidepass',
    feedKey: env.TIDEPASS_FEED_KEY,
    port: Number(env.PORT ?? 4100),
  });
  console.log(`downstream service at ${service.url}/graphql`);
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void service.close());
}
