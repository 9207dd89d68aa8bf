import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type postgres from 'postgres';
import { createTcpProxy, type TcpProxy } from '../../test/helpers/tcp-proxy.js';
import { freePort, now, progress, repoRoot, sleep } from './util.js';

/** One run of an instance's process, from spawn to exit. */
export interface Incarnation {
  readonly pid: number;
  readonly stdout: string;
  readonly stderr: string;
  rssStartKb?: number;
  rssEndKb?: number;
  /**
   * Set when it exited; `expected` when the soak killed or stopped it, or when it exited before it
   * ever answered: a start-up that meets a database fault fails fast by design, and is tried again.
   */
  exit?: { code: number | null; signal: string | null; expected: boolean; beforeAnswering?: boolean };
}

/** A tidepass server (a real process) reaching PostgreSQL through a proxy of its own. */
export interface Instance {
  readonly name: string;
  readonly url: string;
  readonly proxy: TcpProxy;
  /** Running and answering: the load and the probes use only such instances. */
  readonly up: boolean;
  /** Being started (the first time, or again after a kill or a crash). */
  readonly starting: boolean;
  /** Its LISTEN connection's application_name, once seen in pg_stat_activity. */
  readonly listenerName: string | undefined;
  readonly incarnations: readonly Incarnation[];
  start(): Promise<void>;
  /** SIGKILL: an injected crash. */
  kill(): Promise<void>;
  /** SIGTERM at the end of the soak; an exit code other than 0 is reported. */
  stop(): Promise<void>;
  rssKb(): number | undefined;
}

export interface InstanceSetup {
  readonly name: string;
  readonly databaseUrl: string;
  readonly clusterPort: number;
  readonly env: Record<string, string>;
  readonly logDir: string;
  readonly admin: postgres.Sql;
  /** application_names already taken by other instances (shared by all). */
  readonly claimedListeners: Set<string>;
  /** Called when the process exits without the soak having asked it to. */
  readonly onCrash: (instance: Instance, incarnation: Incarnation) => void;
}

const START_TIMEOUT_MS = 90_000;

/** Only what a server needs from our environment: never the database URLs the soak itself read. */
function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];
  return Object.fromEntries(keep.flatMap((key) => (process.env[key] ? [[key, process.env[key]]] : [])));
}

export async function createInstance(setup: InstanceSetup): Promise<Instance> {
  const proxy = await createTcpProxy({ host: '127.0.0.1', port: setup.clusterPort });
  // One port for its whole life, so that a restart is the same instance to its clients.
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const incarnations: Incarnation[] = [];
  let child: ChildProcess | undefined;
  let current: Incarnation | undefined;
  let exited: Promise<void> = Promise.resolve();
  let up = false;
  let starting = false;
  let listenerName: string | undefined;
  let expectingExit = false;

  const instance: Instance = {
    name: setup.name,
    url,
    proxy,
    get up() {
      return up;
    },
    get starting() {
      return starting;
    },
    get listenerName() {
      return listenerName;
    },
    incarnations,
    async start() {
      starting = true;
      try {
        await spawnAndWait();
      } finally {
        starting = false;
      }
    },
    async kill() {
      if (!child || current?.exit) return;
      expectingExit = true;
      up = false;
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child && current && !current.exit) {
        current.rssEndKb = rssOf(current.pid);
        expectingExit = true;
        up = false;
        child.kill('SIGTERM');
        const done = await Promise.race([exited.then(() => true), sleep(20_000).then(() => false)]);
        if (!done) {
          child.kill('SIGKILL');
          await exited;
        }
      }
      await proxy.close();
    },
    rssKb: () => (current && !current.exit ? rssOf(current.pid) : undefined),
  };

  async function spawnAndWait(): Promise<void> {
    const n = incarnations.length + 1;
    const stdout = join(setup.logDir, `${setup.name}.${n}.out.log`);
    const stderr = join(setup.logDir, `${setup.name}.${n}.err.log`);
    const [out, err] = [openSync(stdout, 'w'), openSync(stderr, 'w')];
    // node itself, not npx/tsx's wrapper: the pid is the server's, for SIGKILL and VmRSS.
    const spawned = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: repoRoot,
      env: {
        ...baseEnv(),
        ...setup.env,
        DATABASE_URL: proxy.urlFor(setup.databaseUrl),
        PORT: String(port),
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', out, err],
    });
    closeSync(out);
    closeSync(err);
    const incarnation: Incarnation = { pid: spawned.pid!, stdout, stderr };
    incarnations.push(incarnation);
    child = spawned;
    current = incarnation;
    expectingExit = false;
    let answered = false;
    exited = new Promise((resolve) =>
      spawned.once('exit', (code, signal) => {
        const beforeAnswering = !answered && !expectingExit;
        incarnation.exit = {
          code,
          signal,
          expected: expectingExit || beforeAnswering,
          ...(beforeAnswering ? { beforeAnswering } : {}),
        };
        if (child === spawned) up = false;
        if (!incarnation.exit.expected) setup.onCrash(instance, incarnation);
        resolve();
      }),
    );
    await waitUntilAnswering(url, incarnation);
    answered = true;
    incarnation.rssStartKb = rssOf(incarnation.pid);
    listenerName = await discoverListener(setup.admin, setup.claimedListeners);
    up = true;
  }

  process.once('exit', () => {
    if (current && !current.exit) child?.kill('SIGKILL');
  });
  return instance;
}

async function waitUntilAnswering(url: string, incarnation: Incarnation): Promise<void> {
  const deadline = now() + START_TIMEOUT_MS;
  for (;;) {
    if (incarnation.exit)
      throw new Error(`exited with ${incarnation.exit.code} before answering:\n${tail(incarnation.stderr)}`);
    if (now() > deadline)
      throw new Error(`did not answer within ${START_TIMEOUT_MS / 1000} s:\n${tail(incarnation.stdout)}`);
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
}

/**
 * The LISTEN connection's application_name carries a random instance id: the one that appeared
 * since the other instances' were claimed is this one's. Undefined if none shows up in time (the
 * LISTEN fault then skips this instance).
 */
async function discoverListener(admin: postgres.Sql, claimed: Set<string>): Promise<string | undefined> {
  const deadline = now() + 10_000;
  while (now() < deadline) {
    try {
      const rows = await admin<{ name: string }[]>`
        select distinct application_name as name from pg_stat_activity where application_name like 'tidepass-listen %'`;
      const fresh = rows.map((row) => row.name).filter((name) => !claimed.has(name));
      if (fresh.length === 1) {
        claimed.add(fresh[0]!);
        return fresh[0];
      }
      if (fresh.length > 1) progress(`  cannot tell which LISTEN connection is whose: ${fresh.length} unclaimed`);
    } catch {
      // the database restarting: try again
    }
    await sleep(200);
  }
  return undefined;
}

export function rssOf(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
