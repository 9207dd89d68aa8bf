import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './progress.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerProcess {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  /** Resident memory of the process now, in kB (Linux /proc). */
  rssKb(): number;
  /** A full garbage collection in the process, then a moment to settle (only with gcOnSignal). */
  collectGarbage(): Promise<void>;
  stop(): Promise<void>;
}

export interface SpawnOptions {
  readonly name: string;
  /** A module under the repository, run with tsx. */
  readonly entry: string;
  readonly env: Record<string, string>;
  readonly logDir: string;
  /** Write a .cpuprofile into this folder on exit. */
  readonly cpuProfileDir?: string | undefined;
  /** Path answering 200 once the process is ready. */
  readonly readyPath?: string;
  /** Start with --expose-gc and gc-on-signal.ts, so that collectGarbage() works. */
  readonly gcOnSignal?: boolean;
}

/** Every child still running: killed when the harness exits, however it exits (a timeout, Ctrl-C). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(130));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Only what a server needs from our environment: never the database URLs the harness itself read. */
function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'UV_THREADPOOL_SIZE'];
  return Object.fromEntries(keep.flatMap((key) => (process.env[key] ? [[key, process.env[key]]] : [])));
}

/**
 * Starts `node --import tsx <entry>` as a child process on a free port (PORT), with its stdout (one
 * JSON line per request: the product's own logging) in a file, and waits until it answers.
 */
export async function spawnServer(options: SpawnOptions): Promise<ServerProcess> {
  mkdirSync(options.logDir, { recursive: true });
  const port = await freePort();
  const logPath = join(options.logDir, `${options.name}.log`);
  const log = openSync(logPath, 'w');
  const profile = options.cpuProfileDir
    ? // One folder per server: tsx's loader thread writes a profile of its own beside the main thread's.
      ['--cpu-prof', `--cpu-prof-dir=${join(options.cpuProfileDir, options.name)}`]
    : [];
  const gc = options.gcOnSignal ? ['--expose-gc', '--import', './bench/lib/gc-on-signal.ts'] : [];
  const child: ChildProcess = spawn(process.execPath, [...profile, '--import', 'tsx', ...gc, options.entry], {
    cwd: repoRoot,
    env: { ...baseEnv(), ...options.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  running.add(child);
  child.once('exit', () => running.delete(child));
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exited = code;
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== undefined) {
      throw new Error(`${options.name} exited with ${exited} before answering; its log:\n${tail(logPath)}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} did not answer within 60 s; its log:\n${tail(logPath)}`);
    }
    try {
      const response = await fetch(`${url}${options.readyPath ?? '/ready'}`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return {
    name: options.name,
    url,
    pid: child.pid!,
    rssKb: () => rssKb(child.pid!),
    async collectGarbage() {
      // Without the handler, SIGUSR2 would end the process.
      if (!options.gcOnSignal) throw new Error(`${options.name} was not started with gcOnSignal`);
      child.kill('SIGUSR2');
      await sleep(500);
    },
    async stop() {
      if (exited !== undefined) return;
      child.kill('SIGTERM');
      const done = await Promise.race([exit.then(() => true), sleep(20_000).then(() => false)]);
      if (!done) {
        child.kill('SIGKILL');
        await exit;
      }
    },
  };
}

export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]);
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The soft open-file limit of this process (Linux /proc). */
export function openFileLimit(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  return !match || match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/** Runs `node --import tsx <entry> ...args` to completion and returns its stdout. */
export async function runScript(entry: string, args: string[]): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: repoRoot,
    env: baseEnv(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${entry} exited with ${code}`);
  return out;
}
