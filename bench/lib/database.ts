import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { connectPostgres, openPglite, type Database, type DatabaseHandle } from '../../src/db/client.js';

/**
 * The database the servers run on: a fresh database on the PostgreSQL server that DATABASE_URL or
 * TEST_DATABASE_URL names, dropped afterwards; else a PGlite data folder in a temporary directory.
 */
export interface BenchDatabase {
  readonly kind: 'postgres' | 'pglite';
  /** For the report, e.g. "PostgreSQL 15.2". */
  readonly description: string;
  /** What a server process needs in its environment to use it. */
  readonly serverEnv: Record<string, string>;
  /** Runs `work` with a drizzle handle on it (PGlite: only while no server runs on it). */
  withHandle<T>(work: (db: Database, handle: DatabaseHandle) => Promise<T>): Promise<T>;
  /** Plain SQL issued directly (postgres.js on PostgreSQL), for baselines. */
  direct(options: { max: number }): Promise<DirectSql>;
  /** Process ids of the PostgreSQL backends connected to the bench database (none on PGlite). */
  backendPids(): Promise<number[]>;
  close(): Promise<void>;
}

export interface DirectSql {
  query<Row = Record<string, unknown>>(text: string, params: unknown[]): Promise<Row[]>;
  /** The database these queries reach, through drizzle, for seeding the baseline's own rows. */
  readonly db: Database;
  close(): Promise<void>;
}

export async function openBenchDatabase(): Promise<BenchDatabase> {
  const adminUrl = process.env.DATABASE_URL || process.env.TEST_DATABASE_URL;
  return adminUrl ? openPostgresBench(adminUrl) : openPgliteBench();
}

async function openPostgresBench(adminUrl: string): Promise<BenchDatabase> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const [{ server_version: version }] = (await admin`show server_version`) as unknown as [{ server_version: string }];
  const name = `tidepass_bench_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = connectPostgres(url.toString());
  await handle.migrate();
  return {
    kind: 'postgres',
    description: `PostgreSQL ${version} (${url.host}, a fresh database per run)`,
    serverEnv: { DATABASE_URL: url.toString() },
    withHandle: (work) => work(handle.db, handle),
    async direct({ max }) {
      const sql = postgres(url.toString(), { max, onnotice: () => {}, fetch_types: false });
      return {
        db: handle.db,
        query: async <Row>(text: string, params: unknown[]) =>
          // Prepared, as the product's hot statements are: planning a statement is work no rotation needs.
          (await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })) as unknown as Row[],
        close: () => sql.end({ timeout: 5 }),
      };
    },
    async backendPids() {
      const rows = await admin<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${name}`;
      return rows.map((row) => row.pid);
    },
    async close() {
      await handle.close();
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end({ timeout: 5 });
    },
  };
}

async function openPgliteBench(): Promise<BenchDatabase> {
  const folder = mkdtempSync(join(tmpdir(), 'tidepass-bench-'));
  const dataDir = join(folder, 'data');
  const { version } = JSON.parse(
    readFileSync(fileURLToPath(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url)), 'utf8'),
  ) as { version: string };
  const withHandle = async <T>(work: (db: Database, handle: DatabaseHandle) => Promise<T>): Promise<T> => {
    const handle = await openPglite(dataDir);
    try {
      await handle.migrate();
      return await work(handle.db, handle);
    } finally {
      await handle.close();
    }
  };
  await withHandle(async () => {});
  return {
    kind: 'pglite',
    description: `PGlite ${version} (embedded; DATABASE_URL and TEST_DATABASE_URL unset)`,
    serverEnv: { DATA_DIR: dataDir },
    withHandle,
    async direct() {
      // The server holds the data folder: the baseline gets its own in-memory PGlite of the same schema.
      const handle = await openPglite();
      await handle.migrate();
      return {
        query: async <Row>(text: string, params: unknown[]) => (await handle.client.query<Row>(text, params)).rows,
        close: () => handle.close(),
        db: handle.db,
      };
    },
    backendPids: async () => [],
    async close() {
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
