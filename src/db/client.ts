import { chmodSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql, type ExtractTablesWithRelations } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { DATABASE_CALL_DEADLINE_MS, withDeadline } from './deadline.js';
import { watchedSocket } from './read-watchdog.js';
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
  return ((result as { rows?: Row[] }).rows ?? []);
}

/** SQL text with $1… parameters and its rows, straight through the driver. */
export type RawQuery = <Row>(text: string, params: readonly unknown[]) => Promise<Row[]>;

/**
 * Sends SQL text as is through the driver under `db` (postgres.js or PGlite), for a hot statement
 * whose building through drizzle cost more CPU than the database spent running it. The statement
 * is its own transaction; rows come back as the driver gives them (timestamps: text on postgres.js,
 * Date on PGlite).
 */
export function rawQuery(db: Database): RawQuery {
  const client = (db as unknown as { $client: postgres.Sql | PGlite }).$client;
  if (client instanceof PGlite) {
    return async <Row>(text: string, params: readonly unknown[]) => (await client.query<Row>(text, [...params])).rows;
  }
  // Prepared (postgres.js's unsafe is not by default): the hot statements that come through here would
  // otherwise be parsed and planned by PostgreSQL on every call.
  return async <Row>(text: string, params: readonly unknown[]) =>
    (await client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })) as unknown as Row[];
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

/**
 * Nothing may hang while the database is unreachable or stuck: a request fails (SERVICE_UNAVAILABLE)
 * within about 5 s instead. Seconds to connect; ms for the rest.
 */
export const POSTGRES_TIMEOUTS = {
  connect: 3,
  /** Server side: a statement (lock waits included) that runs longer is cancelled. */
  statement: 3_000,
  /** Server side: a transaction left idle (its client gone quiet) is ended and its locks released. */
  idleInTransaction: 10_000,
  /** Client side: see read-watchdog.ts. Above `statement`, so a slow statement gets the server's answer. */
  read: 4_000,
  /** Seconds: the longest a lost connection waits before connecting again. */
  maxReconnectDelay: 0.5,
} as const;

export function connectPostgres(url: string, options: PostgresOptions = {}): PostgresHandle {
  const client = postgres(url, {
    max: options.max ?? 10,
    connect_timeout: POSTGRES_TIMEOUTS.connect,
    idle_timeout: 60,
    onnotice: () => {},
    connection: {
      statement_timeout: POSTGRES_TIMEOUTS.statement,
      idle_in_transaction_session_timeout: POSTGRES_TIMEOUTS.idleInTransaction,
      // This app announces every end it makes itself: drizzle/0011's trigger announces only ends made by hand.
      'tidepass.announces_ends': 'on',
    },
    socket: watchedSocket(POSTGRES_TIMEOUTS.read),
    // postgres.js's default grows with every connection lost since the last success (3^n / 100 s, up to
    // 20 s): after a restart killed the whole pool, requests would wait that long for a connection.
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, POSTGRES_TIMEOUTS.maxReconnectDelay),
  } as postgres.Options<Record<string, never>>);
  const bounded = withDeadline(preparedByDefault(client), DATABASE_CALL_DEADLINE_MS);
  const db = drizzlePostgres(bounded, { schema });
  return {
    kind: 'postgres',
    client,
    url,
    db: db,
    migrate: () => migrateWithoutTimeouts(url),
    ping: async () => {
      await bounded`select 1`;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/**
 * drizzle prepares a statement only when asked by name (`.prepare('name')`), so PostgreSQL parsed and
 * planned every statement of every request (a login's statements cost it about 4 ms of CPU). postgres.js
 * keeps prepared statements per connection, keyed by their text, and drizzle's texts are the same
 * for the same query shape: preparing them all is the cheap default. Statements without parameters
 * still go as simple queries (postgres.js's rule), so multi-statement SQL keeps working.
 */
function preparedByDefault<T extends postgres.Sql>(client: T): T {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property === 'unsafe') {
        return (text: string, params?: unknown[], options?: postgres.UnsafeQueryOptions) =>
          // After drizzle's options, not before: drizzle passes `prepare: false` for every unnamed statement.
          target.unsafe(text, params as postgres.ParameterOrJSON<never>[], { ...options, prepare: true });
      }
      if (property === 'begin' || property === 'savepoint') {
        return (...args: unknown[]) => {
          const callback = args.pop() as (tx: postgres.Sql) => unknown;
          return (value as (...a: unknown[]) => unknown).apply(target, [...args, (tx: postgres.Sql) => callback(preparedByDefault(tx))]);
        };
      }
      return value;
    },
  });
}

/** Migrations on their own connection: building an index may take longer than any request should. */
async function migrateWithoutTimeouts(url: string): Promise<void> {
  const client = postgres(url, { max: 1, connect_timeout: 10, onnotice: () => {} });
  try {
    await migratePostgres(drizzlePostgres(client, { schema }), { migrationsFolder });
  } finally {
    await client.end({ timeout: 5 });
  }
}

/** `dataDir` undefined means in memory (tests); otherwise a folder that persists across restarts. */
export async function openPglite(dataDir?: string): Promise<PgliteHandle> {
  if (dataDir) {
    // The database holds password hashes and the signing key: a folder we create is this user's only.
    // One that already existed keeps the permissions its owner chose (a shared volume, a group's mount).
    const created = mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (created !== undefined) chmodSync(dataDir, 0o700);
  }
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
