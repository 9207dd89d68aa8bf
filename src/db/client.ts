import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql, type ExtractTablesWithRelations } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as schema from './schema.js';

export type Schema = typeof schema;
/** PGlite and postgres.js behind one type: the services never know which one they use. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
export type Transaction = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Either the database or a transaction on it: what a query function accepts. */
export type Executor = Database | Transaction;

/** Rows of a raw `execute`: postgres.js answers an array, PGlite an object with `rows`. */
export function rowsOf<Row>(result: unknown): Row[] {
  if (Array.isArray(result)) return result as Row[];
  return ((result as { rows?: Row[] }).rows ?? []) as Row[];
}

export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

interface BaseDatabaseHandle {
  readonly db: Database;
  /** Applies the committed migrations in drizzle/. */
  migrate(): Promise<void>;
  /** Resolves when the database answers a query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface PostgresHandle extends BaseDatabaseHandle {
  readonly kind: 'postgres';
  /** The raw postgres.js client, for LISTEN/NOTIFY. */
  readonly client: postgres.Sql;
  readonly url: string;
}

export interface PgliteHandle extends BaseDatabaseHandle {
  readonly kind: 'pglite';
  readonly client: PGlite;
}

export type DatabaseHandle = PostgresHandle | PgliteHandle;

export interface PostgresOptions {
  /** Pool size; the default suits one instance on a small machine. */
  max?: number;
}

export function connectPostgres(url: string, options: PostgresOptions = {}): PostgresHandle {
  const client = postgres(url, {
    max: options.max ?? 10,
    // Fail fast while the database is unreachable instead of queueing requests for ever.
    connect_timeout: 5,
    idle_timeout: 60,
    onnotice: () => {},
  });
  const db = drizzlePostgres(client, { schema });
  return {
    kind: 'postgres',
    client,
    url,
    db: db as unknown as Database,
    migrate: () => migratePostgres(db, { migrationsFolder }),
    ping: async () => {
      await client`select 1`;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/** `dataDir` undefined means in memory (tests); otherwise a folder that persists across restarts. */
export async function openPglite(dataDir?: string): Promise<PgliteHandle> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir ? { dataDir } : {});
  const db = drizzlePglite(client, { schema });
  return {
    kind: 'pglite',
    client,
    db: db as unknown as Database,
    migrate: () => migratePglite(db, { migrationsFolder }),
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => client.close(),
  };
}
