import postgres from 'postgres';
import { connectPostgres, openPglite, type DatabaseHandle } from '../../src/db/client.js';

export type Backend = 'pglite' | 'postgres';

export const backend: Backend = process.env.TEST_BACKEND === 'postgres' ? 'postgres' : 'pglite';

export interface TestDatabase {
  readonly handle: DatabaseHandle;
  /** For PostgreSQL: the URL of this test's own database (a second instance can connect to it). */
  readonly url: string | undefined;
  drop(): Promise<void>;
}

/** A fresh, migrated database of the backend under test: in-memory PGlite, or a new PostgreSQL database. */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (backend === 'pglite') {
    const handle = await openPglite();
    await handle.migrate();
    return { handle, url: undefined, drop: () => handle.close() };
  }
  const adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('TEST_BACKEND=postgres needs TEST_DATABASE_URL');
  const name = `tidepass_test_${crypto.randomUUID().replaceAll('-', '')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = connectPostgres(url.toString());
  await handle.migrate();
  return {
    handle,
    url: url.toString(),
    drop: async () => {
      await handle.close();
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

/** A pool of its own on this PostgreSQL database, as a second process has; drop() closes only that pool. */
export function separatePool(database: TestDatabase, options: { max?: number } = {}): TestDatabase {
  if (!database.url) throw new Error('a separate pool needs a PostgreSQL database');
  const handle = connectPostgres(database.url, options);
  return { handle, url: database.url, drop: () => handle.close() };
}
