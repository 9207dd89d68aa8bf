import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres } from '../src/db/client.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { signUp } from './helpers/auth-flows.js';
import { backend, createTestDatabase, type TestDatabase } from './helpers/database.js';

describe.skipIf(backend !== 'postgres')("drizzle's statements on PostgreSQL", () => {
  let database: TestDatabase;
  let onePool: TestDatabase;
  let t: TestApp;
  beforeAll(async () => {
    database = await createTestDatabase();
    // One connection: what it has prepared is what the app has prepared.
    const handle = connectPostgres(database.url!, { max: 1 });
    onePool = { handle, url: database.url, drop: () => handle.close() };
    t = await createTestApp({ database: onePool });
  });
  afterAll(async () => {
    await t?.close();
    await onePool?.drop();
    await database?.drop();
  });

  it('are prepared once per connection, in a transaction too (a sign-up inserts its user in one)', async () => {
    await signUp(t.gql);
    await signUp(t.gql);
    const client = (t.app.database as { client: postgres.Sql }).client;
    const prepared = await client<{ statement: string }[]>`select statement from pg_prepared_statements`;
    expect(prepared.filter(({ statement }) => statement.startsWith('insert into "users"'))).toHaveLength(1);
  });
});
