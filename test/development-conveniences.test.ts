import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { useStartedApp } from './helpers/app.js';
import { REFRESH, signUp } from './helpers/auth-flows.js';
import { refuseInserts } from './helpers/faults.js';
import { createGql, type Gql } from './helpers/gql.js';

/**
 * With NODE_ENV unset, development conveniences (an unexpected error's details, field suggestions,
 * GraphiQL, introspection) go to clients on this machine only. Real sockets: the same server reached
 * at 127.0.0.1 (loopback) and at this machine's own network address (not loopback).
 */

const networkAddress = Object.values(networkInterfaces())
  .flat()
  .find((entry) => entry && entry.family === 'IPv4' && !entry.internal)?.address;

const INTROSPECTION = '{ __schema { queryType { name } } }';

describe.skipIf(!networkAddress)('with NODE_ENV unset', () => {
  const t = useStartedApp({ env: { NODE_ENV: '', HOST: '0.0.0.0' } });
  const at = (host: string) => `http://${host}:${new URL(t.url).port}`;
  const local = (): Gql => createGql(fetch, at('127.0.0.1'));
  const remote = (): Gql => createGql(fetch, at(networkAddress!));
  const proxied = (): Gql => (query, variables, options) =>
    local()(query, variables, { ...options, headers: { ...options?.headers, 'x-forwarded-for': '203.0.113.9' } });

  const graphiql = async (base: string) =>
    (await fetch(`${base}/graphql`, { headers: { accept: 'text/html' } })).headers.get('content-type') ?? '';

  it('serves GraphiQL to a loopback client only', async () => {
    expect(await graphiql(at('127.0.0.1'))).toContain('text/html');
    expect(await graphiql(at(networkAddress!))).not.toContain('text/html');
    expect((await fetch(`${at(networkAddress!)}/graphiql/graphiql.css`)).status).toBe(404);
  });

  it('answers introspection to a loopback client only', async () => {
    expect((await local()(INTROSPECTION)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    for (const gql of [remote(), proxied()]) {
      const refused = await gql(INTROSPECTION);
      expect(refused.errors?.map((error) => error.extensions?.code)).toContain('GRAPHQL_VALIDATION_FAILED');
      expect(refused.data).toBeUndefined();
    }
  });

  it('suggests field names to a loopback client only, whoever asked first', async () => {
    // The remote client first: validation results are cached per document for every client.
    expect(JSON.stringify(await remote()('{ mee { id } }'))).not.toMatch(/did you mean/i);
    expect(JSON.stringify(await local()('{ mee { id } }'))).toMatch(/did you mean/i);
    expect(JSON.stringify(await remote()('{ mee { id } }'))).not.toMatch(/did you mean/i);
    expect(JSON.stringify(await proxied()('{ mee { id } }'))).not.toMatch(/did you mean/i);
  });

  it("shows an unexpected error's details to a loopback client only", async () => {
    const session = await signUp(local());
    await refuseInserts(t.app.database.db, 'refresh_tokens');
    const shown = await local()(REFRESH, { refreshToken: session.refreshToken });
    expect(shown.errors?.[0]?.extensions).toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      originalError: { message: expect.stringContaining('refused by a test trigger') },
    });
    for (const gql of [remote(), proxied()]) {
      const hidden = await gql(REFRESH, { refreshToken: session.refreshToken });
      expect(hidden.errors?.map((error) => [error.message, error.extensions])).toEqual([['Unexpected error.', { code: 'INTERNAL_SERVER_ERROR' }]]);
    }
  });
});

