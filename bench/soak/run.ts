import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { exportJWK, generateKeyPair } from 'jose';
import { checkDatabase, invariants, readInstanceLogs } from './checks.js';
import { Requests } from './client.js';
import { startCluster } from './cluster.js';
import { DEFAULT_FAULTS, FAULT_KINDS, runFaults, type FaultKind } from './faults.js';
import { createInstance, type Instance } from './instances.js';
import { Ledger } from './ledger.js';
import { runLoad } from './load.js';
import { Probes } from './probes.js';
import { codeVersion, machineDescription, rerenderSoak, writeSoakResults } from './report.js';
import { Subscribers } from './subscribers.js';
import { bump, now, progress, sleep } from './util.js';

/**
 * npm run soak [-- --quick] [-- --duration SECONDS] [-- --instances N] [-- --faults cut,listen,restart,kill]
 * [-- --out DIR] [-- --render]. Several tidepass processes on a PostgreSQL cluster of the soak's own, a mixed load,
 * faults on a schedule; then counts that must be zero (see docs/soak.md). Writes
 * bench/results/soak.json and the "Fault soak" section of bench/RESULTS.md (under DIR with --out).
 * Exit code 1 when an invariant is violated or the soak itself failed.
 */
const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const arg = args.find((a) => a === name || a.startsWith(`${name}=`));
  if (!arg) return undefined;
  const value = arg.includes('=') ? arg.split('=')[1] : args[args.indexOf(arg) + 1];
  if (!value || value.startsWith('--')) throw new Error(`${name} needs a value`);
  return value;
};
const quick = args.includes('--quick');
const durationS = Number(option('--duration') ?? (quick ? 60 : 300));
const instanceCount = Number(option('--instances') ?? 3);
const faultKinds = (option('--faults')?.split(',') ?? DEFAULT_FAULTS) as FaultKind[];
const workers = Number(option('--workers') ?? 12);
const benchFolder = fileURLToPath(new URL('..', import.meta.url));
const outFolder = option('--out') ? resolve(option('--out')!) : benchFolder;
if (!(durationS >= 20) || !(instanceCount >= 2) || !(workers >= 1))
  throw new Error('--duration >= 20, --instances >= 2, --workers >= 1');
if (args.includes('--render')) {
  progress(`rewrote ${rerenderSoak(outFolder)}`);
  process.exit(0);
}
for (const kind of faultKinds)
  if (!FAULT_KINDS.includes(kind)) throw new Error(`unknown fault ${kind}: ${FAULT_KINDS.join(', ')}`);

/** A revoked token must be refused everywhere this long after its end was acknowledged. */
const BOUND_MS = 1000;
/** The last stretch of the load runs without new faults, so that the soak ends on a healthy system. */
const QUIET_END_MS = 12_000;
const FAULT_INTERVAL_MS = quick ? 6_000 : 10_000;
const REFRESH_REUSE_GRACE_S = 2;

process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));
// The soak must end whatever hangs: 'exit' handlers kill the servers and remove the cluster.
setTimeout(
  () => {
    progress('the soak did not finish in time; giving up');
    process.exit(1);
  },
  (durationS + 600) * 1000,
).unref();

const startedAt = new Date().toISOString();
const t0 = now();
const logDir = mkdtempSync(join(tmpdir(), 'tidepass-soak-logs-'));
progress(
  `${quick ? 'quick' : 'full'} soak: ${durationS} s, ${instanceCount} instances, ${workers} clients, faults ${faultKinds.join(',')}`,
);
const cluster = await startCluster();
progress(`PostgreSQL ${cluster.version} on port ${cluster.port} (a private cluster)`);

const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const env = {
  NODE_ENV: 'production',
  // The load mails nothing; production without SMTP_URL must say so.
  MAIL: 'disabled',
  // One key for every instance: a token one signs, all verify.
  JWT_PRIVATE_KEY: JSON.stringify({ ...(await exportJWK(privateKey)), kid: 'soak' }),
  ACCESS_TOKEN_TTL: String(Math.max(900, durationS * 2)),
  REFRESH_REUSE_GRACE: String(REFRESH_REUSE_GRACE_S),
  MAX_SESSIONS_PER_USER: '50',
  SIGNUP_MAX_PER_IP: '1000000',
  LOGIN_MAX_FAILURES_PER_IP: '1000000',
};
const harnessErrors: Record<string, number> = {};
process.on('unhandledRejection', (error) =>
  bump(harnessErrors, `unhandled: ${error instanceof Error ? error.message : String(error)}`),
);
const claimedListeners = new Set<string>();
let ending = false;
const instances: Instance[] = [];
for (let i = 0; i < instanceCount; i += 1) {
  const instance = await createInstance({
    name: String.fromCharCode(97 + i),
    databaseUrl: cluster.url,
    clusterPort: cluster.port,
    env,
    logDir,
    admin: cluster.admin,
    claimedListeners,
    onCrash: (crashed, incarnation) => {
      progress(
        `  CRASH: ${crashed.name} (pid ${incarnation.pid}) exited with ${incarnation.exit?.code ?? incarnation.exit?.signal}`,
      );
      // Brought back, so that the soak goes on; the crash is counted at the end.
      if (!ending) setTimeout(() => void restartQuietly(crashed), 2000);
    },
  });
  // One at a time: the first migrates the database, and each LISTEN connection is told apart as it appears.
  await instance.start();
  instances.push(instance);
  progress(`instance ${instance.name} up at ${instance.url} (pid ${instance.incarnations[0]!.pid})`);
}

async function restartQuietly(instance: Instance): Promise<void> {
  if (instance.up || instance.starting || ending) return;
  await instance
    .start()
    .catch((error: unknown) => progress(`  restart of ${instance.name} failed: ${String(error).split('\n')[0]}`));
}

const loadStart = now();
const loadUntil = loadStart + durationS * 1000;
const requests = new Requests(loadStart);
const ledger = new Ledger(loadStart);
const subscribers = new Subscribers();
const upInstances = () => instances.filter((instance) => instance.up);
const probes = new Probes({ requests, ledger, upInstances, boundMs: BOUND_MS });
// The machine is shared: how busy it was says how much the timings can be trusted.
const soakLoopDelay = monitorEventLoopDelay({ resolution: 20 });
soakLoopDelay.enable();
const loadAverage = { atStart: loadavg().map((l) => Math.round(l * 10) / 10), atEnd: [] as number[] };

progress('load and faults started');
const [, faults] = await Promise.all([
  runLoad(
    { requests, ledger, upInstances, onEndAcknowledged: (s) => probes.afterEnd(s), subscribers, harnessErrors },
    { workers, usersPerWorker: 3, sessionsPerUser: 4, thinkMs: [100, 300], until: loadUntil },
  ),
  runFaults({
    cluster,
    instances,
    kinds: faultKinds,
    startedAt: loadStart,
    firstAt: loadStart + 5_000,
    until: loadUntil - QUIET_END_MS,
    intervalMs: FAULT_INTERVAL_MS,
    holdMs: 3_000,
  }),
]);
const loadSeconds = (now() - loadStart) / 1000;
loadAverage.atEnd = loadavg().map((l) => Math.round(l * 10) / 10);
soakLoopDelay.disable();
progress(`load stopped after ${Math.round(loadSeconds)} s; waiting for the last probes`);
await probes.settle();
for (const instance of instances) await restartQuietly(instance);
await sleep(BOUND_MS);
const endedSessions = ledger.ackedEnds();
progress(`final sweep: ${endedSessions.length} ended sessions on ${upInstances().length} instances`);
await probes.sweep(endedSessions, upInstances());
const instancesDown = instances.filter((instance) => !instance.up).map((instance) => instance.name);
const deliveries = subscribers.deliveries(ledger, BOUND_MS);
await subscribers.closeAll();
ending = true;
for (const instance of instances) await instance.stop();
const database = await checkDatabase(cluster.admin, ledger);
await cluster.stop();

const logs = readInstanceLogs(instances);
const checked = invariants({ requests, ledger, database, logs, instancesDown, harnessErrors, faults });
const passed = checked.every((invariant) => invariant.count === 0);
const mib = (kb: number | undefined) => (kb === undefined ? undefined : Math.round(kb / 102.4) / 10);
const probeKinds = ['probe me', 'probe refresh', 'final probe me'];
const written = writeSoakResults(outFolder, {
  mode: quick ? 'quick' : 'full',
  command: `npm run soak${args.length ? ` -- ${args.join(' ')}` : ''}`,
  startedAt,
  commit: codeVersion(),
  machine: machineDescription(),
  node: process.version,
  database: `PostgreSQL ${cluster.version} (a private cluster, restarted by the soak)`,
  loadSeconds,
  seconds: (now() - t0) / 1000,
  loadAverage,
  // If the soak's own event loop stalled, its timings (the 5 s bound) are inflated by as much.
  soakEventLoopDelayMs: {
    p99: Math.round(soakLoopDelay.percentile(99) / 1e6),
    max: Math.round(soakLoopDelay.max / 1e6),
  },
  settings: {
    instances: instanceCount,
    workers,
    boundMs: BOUND_MS,
    faultKinds,
    faultIntervalS: FAULT_INTERVAL_MS / 1000,
    refreshReuseGraceS: REFRESH_REUSE_GRACE_S,
  },
  passed,
  invariants: checked,
  operations: Object.fromEntries(Object.entries(requests.sent).filter(([kind]) => !probeKinds.includes(kind))),
  answers: requests.outcomes,
  maxAnswerMs: requests.maxMs,
  acknowledgedEnds: ledger.endsByKind,
  faults: {
    byKind: faults.reduce<Record<string, number>>(
      (counts, f) => (bump(counts, f.detail.startsWith('skipped') ? `${f.kind} (skipped)` : f.kind), counts),
      {},
    ),
    list: faults,
  },
  probes: {
    afterBound: ledger.probeOutcomes,
    finalSweep: probes.finalOutcomes,
    endedRefreshes: ledger.endedRefreshOutcomes,
  },
  subscribers: deliveries,
  retired: ledger.retiredByReason,
  databaseTotals: database.totals,
  memory: instances.map((instance) => ({
    instance: instance.name,
    processes: instance.incarnations.length,
    firstStartMiB: mib(instance.incarnations[0]?.rssStartKb),
    lastStartMiB: mib(instance.incarnations.at(-1)?.rssStartKb),
    endMiB: mib(instance.incarnations.at(-1)?.rssEndKb),
  })),
  logs: { logLines: logs.logLines, stderrLines: logs.stderrLines, folder: passed ? undefined : logDir },
});

for (const invariant of checked)
  progress(`${invariant.count === 0 ? '  ok  ' : '  FAIL'} ${invariant.name}: ${invariant.count}`);
progress(`wrote ${written.json} and ${written.markdown}`);
if (passed) rmSync(logDir, { recursive: true, force: true });
else progress(`servers' logs kept in ${logDir}`);
process.exit(passed ? 0 : 1);
