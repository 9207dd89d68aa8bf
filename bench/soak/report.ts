import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Invariant } from './checks.js';
import type { DeliveryFigures } from './subscribers.js';
import { repoRoot } from './util.js';

/** Everything soak.json holds; RESULTS.md's section is rendered from it. */
export interface SoakResults {
  readonly mode: 'quick' | 'full';
  readonly command: string;
  readonly startedAt: string;
  readonly commit: string;
  readonly machine: string;
  readonly node: string;
  readonly database: string;
  /** Seconds of load (the soak proper) and of the whole run. */
  readonly loadSeconds: number;
  readonly seconds: number;
  /** The machine's 1, 5 and 15 minute load averages when the load started and stopped. */
  readonly loadAverage: { readonly atStart: number[]; readonly atEnd: number[] };
  readonly soakEventLoopDelayMs: { readonly p99: number; readonly max: number };
  readonly settings: {
    readonly instances: number;
    readonly workers: number;
    readonly boundMs: number;
    readonly faultKinds: readonly string[];
    readonly faultIntervalS: number;
    readonly refreshReuseGraceS: number;
  };
  readonly passed: boolean;
  readonly invariants: readonly Invariant[];
  /** Requests sent by kind (the load's operations, then the soak's probes), and their answers. */
  readonly operations: Record<string, number>;
  readonly answers: Record<string, number>;
  readonly maxAnswerMs: number;
  readonly acknowledgedEnds: Record<string, number>;
  readonly faults: { readonly byKind: Record<string, number>; readonly list: readonly unknown[] };
  readonly probes: {
    readonly afterBound: Record<string, number>;
    readonly finalSweep: Record<string, number>;
    readonly endedRefreshes: Record<string, number>;
  };
  readonly subscribers: DeliveryFigures;
  /** Sessions the load stopped using, and why (answers it could not know the outcome of, and the like). */
  readonly retired: Record<string, number>;
  readonly databaseTotals: Record<string, number>;
  readonly memory: readonly {
    instance: string;
    processes: number;
    firstStartMiB?: number;
    lastStartMiB?: number;
    endMiB?: number;
  }[];
  readonly logs: {
    readonly logLines: Record<string, number>;
    readonly stderrLines: number;
    readonly folder?: string | undefined;
  };
}

export function machineDescription(): string {
  const cores = cpus();
  return `${cores.length} × ${cores[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${platform()} ${release()}`;
}

/** The commit run, with "+changes" when src/ or bench/soak/ differ from it. */
export function codeVersion(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const changed = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench/soak'], {
      cwd: repoRoot,
      encoding: 'utf8',
    }).trim();
    return changed ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

export const SECTION_TITLE = '## Fault soak';

/** The section again from results/soak.json (after a change to its rendering), without running anything. */
export function rerenderSoak(folder: string): string {
  const results = JSON.parse(readFileSync(join(folder, 'results', 'soak.json'), 'utf8')) as SoakResults;
  return writeSoakResults(folder, results).markdown;
}

/** results/soak.json, and the "Fault soak" section of RESULTS.md in place of the last one. */
export function writeSoakResults(folder: string, results: SoakResults): { json: string; markdown: string } {
  mkdirSync(join(folder, 'results'), { recursive: true });
  const json = join(folder, 'results', 'soak.json');
  writeFileSync(json, JSON.stringify(results, null, 2) + '\n');
  const markdown = join(folder, 'RESULTS.md');
  const existing = existsSync(markdown) ? readFileSync(markdown, 'utf8') : '';
  writeFileSync(markdown, replaceSection(existing, renderSection(results)));
  return { json, markdown };
}

/** The "## Fault soak" section of a RESULTS.md (up to the next "## " heading), if any. */
export function soakSectionOf(text: string): string | undefined {
  const start = text.indexOf(`\n${SECTION_TITLE}\n`);
  if (start === -1) return undefined;
  const next = text.indexOf('\n## ', start + 1);
  return `${text.slice(start + 1, next === -1 ? undefined : next).trimEnd()}\n`;
}

/** The text with its "## Fault soak" section (up to the next "## " heading) replaced, or appended. */
export function replaceSection(text: string, section: string): string {
  const start = text.indexOf(`\n${SECTION_TITLE}\n`);
  if (start === -1) return `${text.trimEnd()}${text.trim() ? '\n\n' : ''}${section}`;
  const next = text.indexOf('\n## ', start + 1);
  const rest = next === -1 ? '' : text.slice(next);
  return `${text.slice(0, start).trimEnd()}\n\n${section}${rest ? `\n${rest.trimStart()}` : ''}`;
}

const cell = (text: unknown) => String(text).replaceAll('|', '\\|');
const list = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key} ${value}`)
    .join(', ') || 'none';

export function renderSection(r: SoakResults): string {
  const violated = r.invariants.filter((i) => i.count > 0);
  const lines = [
    SECTION_TITLE,
    '',
    `${r.mode === 'quick' ? '**Quick run** (`--quick`: a smoke run).' : '**Full run.**'} Written by \`${r.command}\` on ${r.startedAt}: ${Math.round(r.loadSeconds)} s of load, ${Math.round(r.seconds)} s in all, at commit ${r.commit}.`,
    `${r.settings.instances} instances on ${r.database}; ${r.settings.workers} clients; ${r.machine}; Node ${r.node}. How to read this: docs/soak.md.`,
    '',
    violated.length === 0
      ? '**Every invariant holds.**'
      : `**${violated.length} invariant(s) violated**: ${violated.map((i) => i.name).join('; ')}.`,
    '',
    '| Must be 0 | Count |',
    '| --- | --- |',
    ...r.invariants.map((i) => `| ${cell(i.name)} | ${i.count > 0 ? `**${i.count}**` : 0} |`),
    '',
    ...violated.flatMap((i) => [
      `${i.name}, the first ${Math.min(3, i.examples.length)} (all in results/soak.json):`,
      '',
      ...i.examples.slice(0, 3).map((example) => `- \`${JSON.stringify(example)}\``),
      '',
    ]),
    '| Figure | Value |',
    '| --- | --- |',
    `| Operations (requests by kind) | ${cell(list(r.operations))} |`,
    `| Acknowledged ends (checked in the database and probed) | ${cell(list(r.acknowledgedEnds))} |`,
    `| Faults injected | ${cell(list(r.faults.byKind))} |`,
    `| Probes of ended sessions' access tokens after the bound | ${cell(list(r.probes.afterBound))} |`,
    `| Final sweep: every ended session on every instance | ${cell(list(r.probes.finalSweep))} |`,
    `| Refreshes of ended sessions | ${cell(list(r.probes.endedRefreshes))} |`,
    `| Subscribers: ends heard within the bound / expected (late, missing) | ${r.subscribers.inTime} / ${r.subscribers.expected} (${r.subscribers.late}, ${r.subscribers.missing}) |`,
    `| Slowest answer | ${Math.round(r.maxAnswerMs)} ms |`,
    `| The soak's own event-loop delay, p99 / max | ${r.soakEventLoopDelayMs.p99} / ${r.soakEventLoopDelayMs.max} ms |`,
    `| Machine load average (1, 5, 15 min) at start / end of the load | ${r.loadAverage.atStart.join(', ')} / ${r.loadAverage.atEnd.join(', ')} |`,
    `| Sessions the load stopped using, by reason | ${cell(list(r.retired))} |`,
    `| Servers' warn/error log lines | ${cell(list(r.logs.logLines))} |`,
    '',
    '| Instance | Processes | RSS at first start | RSS at last start | RSS at end |',
    '| --- | --- | --- | --- | --- |',
    ...r.memory.map(
      (m) =>
        `| ${m.instance} | ${m.processes} | ${m.firstStartMiB ?? '?'} MiB | ${m.lastStartMiB ?? '?'} MiB | ${m.endMiB ?? '?'} MiB |`,
    ),
    '',
    `Reproduce: \`npm run soak\` (5 minutes) or \`npm run soak -- --quick\`; see docs/soak.md.`,
    '',
  ];
  return lines.join('\n');
}
