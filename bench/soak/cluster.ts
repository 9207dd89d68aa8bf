import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { freePort } from './util.js';

/**
 * A PostgreSQL cluster of the soak's own, in a temporary folder on a free port: the soak restarts it
 * and kills its backends, which it must never do to a server others use. Removed at the end, and
 * also when the soak exits on an error or Ctrl-C (synchronously, from the 'exit' handler).
 */
export interface Cluster {
  readonly port: number;
  /** postgres:// URL of the soak database, straight to the server (not through a proxy). */
  readonly url: string;
  readonly version: string;
  /** An admin connection that reconnects by itself after a restart. */
  readonly admin: postgres.Sql;
  /** pg_ctl restart -m fast: every connection is closed, the server is back once it resolves. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const BIN = process.env.SOAK_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const DATABASE = 'soak';

/** A PostgreSQL binary's command line, as the postgres OS user when we are root (initdb refuses root). */
function commandOf(binary: string, args: string[]): [string, string[]] {
  const path = join(BIN, binary);
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
}

function pg(binary: string, args: string[]): string {
  const [command, argv] = commandOf(binary, args);
  return execFileSync(command, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Without blocking the event loop: the load goes on while the server restarts. */
async function pgAsync(binary: string, args: string[]): Promise<void> {
  const [command, argv] = commandOf(binary, args);
  await promisify(execFile)(command, argv);
}

export async function startCluster(): Promise<Cluster> {
  if (!existsSync(join(BIN, 'initdb'))) throw new Error(`no PostgreSQL binaries in ${BIN} (set SOAK_PG_BIN)`);
  const folder = mkdtempSync(join(tmpdir(), 'tidepass-soak-pg-'));
  const data = join(folder, 'data');
  const port = await freePort();
  let running = false;
  const removeSync = () => {
    if (running) {
      try {
        pg('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '20']);
      } catch {
        // already stopped
      }
      running = false;
    }
    rmSync(folder, { recursive: true, force: true });
  };
  process.once('exit', removeSync);
  if (process.getuid?.() === 0) chownSync(folder, uidOf('postgres'), gidOf('postgres'));

  pg('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  // Its own socket folder and only loopback; fsync off because nothing here must survive a power
  // loss, and the soak's restarts are clean ones (-m fast) that write everything out.
  const options = [
    `-p ${port}`,
    `-k ${folder}`,
    "-c listen_addresses='127.0.0.1'",
    '-c max_connections=200',
    '-c fsync=off',
    '-c full_page_writes=off',
  ].join(' ');
  pg('pg_ctl', ['start', '-D', data, '-w', '-t', '60', '-l', join(folder, 'server.log'), '-o', options]);
  running = true;

  const base = `postgres://postgres@127.0.0.1:${port}`;
  const setup = postgres(`${base}/postgres`, { max: 1, onnotice: () => {} });
  await setup.unsafe(`create database ${DATABASE}`);
  const [{ server_version: version }] = (await setup`show server_version`) as unknown as [{ server_version: string }];
  await setup.end({ timeout: 5 });

  const url = `${base}/${DATABASE}`;
  const admin = postgres(url, { max: 2, onnotice: () => {}, connect_timeout: 5, idle_timeout: 5 });
  return {
    port,
    url,
    version,
    admin,
    async restart() {
      await pgAsync('pg_ctl', [
        'restart',
        '-D',
        data,
        '-m',
        'fast',
        '-w',
        '-t',
        '60',
        '-l',
        join(folder, 'server.log'),
        '-o',
        options,
      ]);
    },
    async stop() {
      await admin.end({ timeout: 2 }).catch(() => {});
      removeSync();
      process.removeListener('exit', removeSync);
    },
  };
}

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}

function gidOf(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
}
