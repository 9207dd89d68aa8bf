import { createSchema, createYoga } from 'graphql-yoga';
import { afterEach, expect, it } from 'vitest';
import { createVerifier } from '../src/index.js';
import { requireTidepassClaims, useTidepassAuth, type TidepassAuthContext } from '../src/yoga.js';
import { AUDIENCE, FEED_KEY, ISSUER, startFakeTidepass } from './fake-tidepass.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function service() {
  const fake = await startFakeTidepass();
  cleanups.push(() => fake.close());
  const verifier = createVerifier({ url: fake.url, issuer: ISSUER, audience: AUDIENCE, feedKey: FEED_KEY, onError: () => {} });
  cleanups.push(() => verifier.close());
  await verifier.ready();
  const yoga = createYoga<TidepassAuthContext>({
    schema: createSchema<TidepassAuthContext>({
      typeDefs: 'type Query { me: String }',
      resolvers: { Query: { me: (_root, _args, context) => requireTidepassClaims(context).userId } },
    }),
    plugins: [useTidepassAuth(verifier)],
  });
  const me = async (authorization?: string) => {
    const response = await yoga.fetch('http://service/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization && { authorization }) },
      body: JSON.stringify({ query: '{ me }' }),
    });
    const body = (await response.json()) as { data?: { me: string | null }; errors?: { extensions: { code: string } }[] };
    return { status: response.status, me: body.data?.me, code: body.errors?.[0]?.extensions.code };
  };
  return { fake, me };
}

it('puts the verified user in the context, and answers each refusal with its code and status', async () => {
  const { fake, me } = await service();
  const userId = crypto.randomUUID();
  const sessionId = crypto.randomUUID();
  const token = await fake.sign({ sub: userId, sid: sessionId });
  expect(await me(`Bearer ${token}`)).toEqual({ status: 200, me: userId, code: undefined });
  expect(await me()).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  expect(await me('Bearer nonsense')).toMatchObject({ status: 401, code: 'INVALID_TOKEN' });
  fake.push({ sessionId, userId, endedAt: new Date() });
  await expect.poll(async () => (await me(`Bearer ${token}`)).code).toBe('SESSION_REVOKED');
  expect((await me(`Bearer ${token}`)).status).toBe(401);
});
