import { readFileSync } from 'node:fs';
import type { BenchDatabase } from './database.js';

/**
 * CPU time actually spent, from Linux /proc: unlike wall-clock figures and sampling profiles, it
 * does not grow when other work on a shared machine takes the cores away. Split into the server's
 * main thread (JavaScript: yoga, resolvers, drizzle, postgres.js), its other threads (libuv's pool:
 * argon2, WebCrypto signing), and the PostgreSQL backends serving the bench database.
 */
export interface CpuReading {
  readonly serverMainMs: number;
  readonly serverOtherMs: number;
  readonly databaseMs: number;
}

/** Linux's USER_HZ: /proc counts CPU time in these ticks. */
const TICK_MS = 10;

/** utime + stime of one task (/proc/<pid>/stat or /proc/<pid>/task/<tid>/stat), in ms; 0 once it is gone. */
function statCpuMs(path: string): number {
  try {
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

export function processCpuMs(pid: number): { main: number; total: number } {
  return { main: statCpuMs(`/proc/${pid}/task/${pid}/stat`), total: statCpuMs(`/proc/${pid}/stat`) };
}

/** Starts counting; `stop` returns what was spent since. Backends that ended meanwhile are not counted. */
export async function startCpuMeter(
  serverPids: readonly number[],
  database: BenchDatabase,
): Promise<{ stop(): Promise<CpuReading> }> {
  const server = () =>
    serverPids.map(processCpuMs).reduce((a, b) => ({ main: a.main + b.main, total: a.total + b.total }), { main: 0, total: 0 });
  const backends = async () => new Map((await database.backendPids()).map((pid) => [pid, statCpuMs(`/proc/${pid}/stat`)]));
  const server0 = server();
  const backends0 = await backends();
  return {
    async stop() {
      const server1 = server();
      const backends1 = await backends();
      let databaseMs = 0;
      for (const [pid, ms] of backends1) databaseMs += ms - (backends0.get(pid) ?? 0);
      return {
        serverMainMs: server1.main - server0.main,
        serverOtherMs: server1.total - server1.main - (server0.total - server0.main),
        // PGlite runs inside the server process: its time is in the server's main thread.
        databaseMs: database.kind === 'pglite' ? Number.NaN : databaseMs,
      };
    },
  };
}

/** "0.41 ms in the server's main thread, …" per operation, for a results note. */
export function describeCpu(reading: CpuReading, operations: number, what: string): string {
  const per = (ms: number) => `${(ms / operations).toFixed(2)} ms`;
  const parts = [`${per(reading.serverMainMs)} server main thread`];
  if (reading.serverOtherMs >= 0.05 * operations) parts.push(`${per(reading.serverOtherMs)} server pool threads`);
  parts.push(Number.isNaN(reading.databaseMs) ? 'database in process' : `${per(reading.databaseMs)} PostgreSQL`);
  return `CPU per ${what}: ${parts.join(', ')} (from /proc, over ${operations} operations)`;
}
