import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createSchema, createYoga } from 'graphql-yoga';
import { signEs256 } from '../../src/auth/es256-signer.js';
import { hashPassword, verifyPassword } from '../../src/auth/passwords.js';
import { BENCH_PASSWORD } from '../lib/fixtures.js';

/**
 * The ceiling for scenario 3: a login that does nothing but what a login cannot avoid besides the
 * database. graphql-yoga with its defaults, one `login` mutation of tidepass's shape that verifies
 * the password (the product's argon2id parameters) and signs an ES256 access token; no throttle, no
 * user read, no session. What this reaches over bare hashes is the most any login through GraphQL on
 * this machine can; the product's ratio is to be read against it.
 */
const passwordHash = await hashPassword(BENCH_PASSWORD);
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

const yoga = createYoga({
  logging: false,
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      type Query { ok: Boolean }
      type Tokens { accessToken: String! refreshToken: String! }
      type Mutation { login(email: String!, password: String!, deviceName: String): Tokens! }
    `,
    resolvers: {
      Mutation: {
        login: async (_parent: unknown, args: { email: string; password: string }) => {
          if (!(await verifyPassword(passwordHash, args.password))) throw new Error('INVALID_CREDENTIALS');
          const now = Math.floor(Date.now() / 1000);
          const claims = { sub: args.email, sid: crypto.randomUUID(), jti: crypto.randomUUID(), iat: now, exp: now + 900 };
          return {
            accessToken: signEs256({ alg: 'ES256', typ: 'at+jwt', kid: 'ceiling' }, claims, privateKey),
            refreshToken: randomBytes(32).toString('base64url'),
          };
        },
      },
    },
  }),
});

const server = createServer((request, response) => {
  if (request.url === '/ready') return void response.writeHead(200).end();
  void yoga(request, response);
});
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
