import type { Cluster } from './cluster.js';
import type { Instance } from './instances.js';
import { now, pick, progress, sleep } from './util.js';

/**
 * cut: one instance's PostgreSQL connections reset and new ones refused, then restored.
 * listen: one instance's LISTEN backend ended with pg_terminate_backend.
 * restart: pg_ctl restart -m fast of the soak's own cluster.
 * kill: one instance SIGKILLed, then started again.
 * hang (not in the default set): one instance's connections forward nothing, then everything held
 * (a partition without a FIN), which the LISTEN heartbeat only notices late.
 */
export const FAULT_KINDS = ['cut', 'listen', 'restart', 'kill', 'hang'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** The kill first: the restart of a server is the slowest, and a quick run must still see every kind. */
export const DEFAULT_FAULTS: readonly FaultKind[] = ['kill', 'cut', 'listen', 'restart'];

export interface FaultRecord {
  readonly kind: FaultKind;
  readonly target: string;
  /** Seconds into the load when it was injected, and how long until it was over (restored, restarted). */
  readonly atS: number;
  lastedS: number;
  /** What happened: e.g. how many backends were terminated; "skipped: ..." when it could not be injected. */
  detail: string;
}

export interface FaultDeps {
  readonly cluster: Cluster;
  readonly instances: readonly Instance[];
  readonly kinds: readonly FaultKind[];
  /** Soak clock (ms): the start of the soak, the first fault, and the time after which none starts. */
  readonly startedAt: number;
  readonly firstAt: number;
  readonly until: number;
  /** Pause between the end of one fault and the start of the next. */
  readonly intervalMs: number;
  /** How long a cut or hang lasts. */
  readonly holdMs: number;
}

/**
 * Injects one fault at a time, the kinds in turn, until `until`; returns what it did once the last
 * killed instance is back. A killed instance starts again in the background (a start takes long
 * on a busy machine) while the next faults go on; no other kill until every instance is up.
 */
export async function runFaults(deps: FaultDeps): Promise<FaultRecord[]> {
  const records: FaultRecord[] = [];
  const restarts: Promise<void>[] = [];
  await sleep(Math.max(0, deps.firstAt - now()));
  for (let turn = 0; now() < deps.until; turn += 1) {
    // A kill while a killed instance is still starting would leave one up: the next kind instead.
    const allUp = deps.instances.every((instance) => instance.up);
    if (deps.kinds[turn % deps.kinds.length] === 'kill' && !allUp && deps.kinds.length > 1) turn += 1;
    const kind = deps.kinds[turn % deps.kinds.length]!;
    const started = now();
    const record: FaultRecord = {
      kind,
      target: '-',
      atS: round((started - deps.startedAt) / 1000),
      lastedS: 0,
      detail: '',
    };
    const { target, detail, restarting } = await inject(deps, kind);
    Object.assign(record, { target, detail, lastedS: round((now() - started) / 1000) });
    records.push(record);
    progress(`  fault ${kind} on ${target}: ${detail}${restarting ? '' : ` (${record.lastedS} s)`}`);
    if (restarting) {
      restarts.push(
        sleep(1000)
          .then(() => restart(restarting))
          .then((outcome) => {
            Object.assign(record, { detail: `${detail}; ${outcome}`, lastedS: round((now() - started) / 1000) });
            progress(`  ${restarting.name}: ${outcome}`);
          }),
      );
    }
    await sleep(deps.intervalMs);
  }
  await Promise.all(restarts);
  return records;
}

async function inject(
  deps: FaultDeps,
  kind: FaultKind,
): Promise<{ target: string; detail: string; restarting?: Instance }> {
  const up = deps.instances.filter((instance) => instance.up);
  if (kind === 'restart') {
    await deps.cluster.restart();
    return { target: 'postgresql', detail: 'restarted (-m fast)' };
  }
  if (up.length === 0) return { target: '-', detail: 'skipped: no instance up' };
  const instance = pick(up);
  switch (kind) {
    case 'cut':
    case 'hang':
      if (kind === 'cut') instance.proxy.cut();
      else instance.proxy.hang();
      await sleep(deps.holdMs);
      instance.proxy.restore();
      return { target: instance.name, detail: `${kind} for ${deps.holdMs / 1000} s, then restored` };
    case 'listen':
      return { target: instance.name, detail: await terminateListener(deps.cluster, instance) };
    case 'kill':
      if (up.length < deps.instances.length)
        return { target: instance.name, detail: 'skipped: another instance is down' };
      await instance.kill();
      return { target: instance.name, detail: 'SIGKILL', restarting: instance };
  }
}

async function terminateListener(cluster: Cluster, instance: Instance): Promise<string> {
  if (!instance.listenerName) return 'skipped: its LISTEN connection was never identified';
  const rows = await cluster.admin<{ terminated: boolean }[]>`
    select pg_terminate_backend(pid) as terminated from pg_stat_activity where application_name = ${instance.listenerName}`;
  const terminated = rows.filter((row) => row.terminated).length;
  return terminated > 0 ? `${terminated} LISTEN backend terminated` : 'skipped: no LISTEN backend at that moment';
}

/** Starts a killed instance again; a start that fails is retried, and reported. */
async function restart(instance: Instance): Promise<string> {
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    try {
      const t0 = now();
      await instance.start();
      return `restarted in ${round((now() - t0) / 1000)} s${attempt > 1 ? ` (attempt ${attempt})` : ''}`;
    } catch (error) {
      progress(
        `  start of ${instance.name} failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      );
      await sleep(2000);
    }
  }
  return 'NOT restarted (3 attempts failed)';
}

const round = (value: number) => Math.round(value * 10) / 10;
