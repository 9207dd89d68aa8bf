import { describe, expect, it } from 'vitest';
import { documentLimits } from '../src/graphql/limits.js';
import { useStartedApp } from './helpers/app.js';
import { PASSWORD, signUp } from './helpers/auth-flows.js';
import { expectRefusal, readAnswer } from './helpers/bad-input.js';
import { codes } from './helpers/gql.js';
import { connected, wsClient } from './helpers/ws.js';

// GRAPHIQL=true: introspection for every client, as tools need (otherwise loopback clients only).
const t = useStartedApp({ env: { GRAPHIQL: 'true' } });

function post(body: unknown) {
  return Promise.resolve(
    t.app.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    }),
  ).then(readAnswer);
}

function aliasedLogins(count: number, email: string, password: string): string {
  const logins = Array.from(
    { length: count },
    (_, i) => `try${i}: login(email: ${JSON.stringify(email)}, password: ${JSON.stringify(password)}) { accessToken }`,
  );
  return `mutation { ${logins.join('\n')} }`;
}

describe('one document cannot multiply password attempts', () => {
  it('refuses fifty aliased logins before any runs: GRAPHQL_VALIDATION_FAILED, and no attempt is counted', async () => {
    const { user } = await signUp(t.gql);
    const answer = await post({ query: aliasedLogins(50, user.email, 'wrong password') });
    expectRefusal(answer, 'GRAPHQL_VALIDATION_FAILED');
    expect(answer.body!.data).toBeUndefined();

    // The account's five failures are all still there: none of the fifty was tried.
    for (let i = 0; i < 5; i += 1) {
      expect(codes(await t.gql(aliasedLogins(1, user.email, 'wrong password')))).toEqual(['INVALID_CREDENTIALS']);
    }
    expect(codes(await t.gql(aliasedLogins(1, user.email, PASSWORD)))).toEqual(['RATE_LIMITED']);
  });

  it(`runs ${documentLimits.aliases} aliased logins (the most one document may hold) one at a time, stopping at the first failure`, async () => {
    const { user } = await signUp(t.gql);
    // login is non-null: its failure nulls the whole result and the mutations after it never run.
    const result = await t.gql(aliasedLogins(documentLimits.aliases, user.email, 'wrong password'));
    expect(codes(result)).toEqual(['INVALID_CREDENTIALS']);
    expect(result.data).toBeNull();
    // So that document was one attempt: four remain.
    for (let i = 0; i < 4; i += 1) {
      expect(codes(await t.gql(aliasedLogins(1, user.email, 'wrong password')))).toEqual(['INVALID_CREDENTIALS']);
    }
    expect(codes(await t.gql(aliasedLogins(1, user.email, PASSWORD)))).toEqual(['RATE_LIMITED']);
  });

  it('refuses the same fifty aliases over graphql-ws', async () => {
    const { accessToken, user } = await signUp(t.gql);
    const client = wsClient(t.url, { token: accessToken });
    await connected(client);
    const outcome = await new Promise<unknown>((resolve) => {
      client.subscribe(
        { query: aliasedLogins(50, user.email, 'wrong password') },
        { next: resolve, error: resolve, complete: () => resolve('complete') },
      );
    });
    const errors = outcome as { extensions?: { code?: string } }[];
    expect(Array.isArray(errors)).toBe(true);
    expect(errors.map((error) => error.extensions?.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    await client.dispose();
  });

  it('refuses a batch of operations in one request with BAD_REQUEST', async () => {
    const answer = await post([{ query: '{ __typename }' }, { query: '{ __typename }' }]);
    expectRefusal(answer, 'BAD_REQUEST', 400);
  });
});

describe('document limits', () => {
  it(`refuses a document of more than ${documentLimits.tokens} tokens while parsing it: GRAPHQL_PARSE_FAILED`, async () => {
    expectRefusal(await post({ query: `{ ${'__typename '.repeat(documentLimits.tokens + 1)}}` }), 'GRAPHQL_PARSE_FAILED');
  });

  it(`refuses selections deeper than ${documentLimits.depth}: GRAPHQL_VALIDATION_FAILED`, async () => {
    const deep = `{ me ${'{ a '.repeat(documentLimits.depth)}${'}'.repeat(documentLimits.depth)} }`;
    const answer = await post({ query: deep });
    expectRefusal(answer, 'GRAPHQL_VALIDATION_FAILED');
    expect(answer.body!.errors!.map((error: { message: string }) => error.message).join(' ')).toMatch(/depth limit/i);
  });

  it(`refuses more than ${documentLimits.directives} directives: GRAPHQL_VALIDATION_FAILED`, async () => {
    const directives = Array.from({ length: documentLimits.directives + 1 }, (_, i) => `a${i}: __typename @skip(if: false)`);
    const answer = await post({ query: `{ ${directives.join(' ')} }` });
    expectRefusal(answer, 'GRAPHQL_VALIDATION_FAILED');
  });

  it('answers an unknown field without suggesting names outside development', async () => {
    const answer = await post({ query: '{ mee { id } }' });
    expectRefusal(answer, 'GRAPHQL_VALIDATION_FAILED');
    expect(answer.text).not.toMatch(/did you mean/i);
    expect(answer.text).not.toContain('"me"');
  });

  it('still answers ordinary documents, and introspection for tools', async () => {
    expect((await post({ query: '{ __typename }' })).body).toEqual({ data: { __typename: 'Query' } });
    const introspection = await post({
      query: '{ __schema { types { name fields { name type { name ofType { name ofType { name ofType { name } } } } } } } }',
    });
    expect(introspection.body!.errors).toBeUndefined();
  });
});
