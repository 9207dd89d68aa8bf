import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release, platform } from 'node:os';
import { join } from 'node:path';
import { replaceSection, soakSectionOf } from '../soak/report.js';
import type { ScenarioOutcome } from './results.js';

export interface RunInfo {
  readonly mode: 'full' | 'quick';
  readonly startedAt: string;
  readonly seconds: number;
  readonly machine: string;
  readonly node: string;
  readonly database: string;
  readonly command: string;
  /** The commit measured (short hash; "+changes" when src/ or bench/ had uncommitted changes). */
  readonly commit?: string;
  /** Scenarios run again (--rerun) into earlier results. */
  readonly reran?: readonly number[];
}

/**
 * The outcomes of `fresh` in place of the same scenarios' in the earlier results of this mode, and
 * the earlier run's start and length (the run the table is of), with every scenario run again so far.
 */
export function mergeWithEarlier(
  folder: string,
  mode: RunInfo['mode'],
  fresh: ScenarioOutcome[],
): { outcomes: ScenarioOutcome[]; startedAt?: string; seconds?: number; commit?: string; reran: number[] } {
  const path = join(folder, 'results', 'latest.json');
  if (!existsSync(path)) return { outcomes: fresh, reran: [] };
  const earlier = JSON.parse(readFileSync(path, 'utf8')) as RunInfo & { scenarios: ScenarioOutcome[] };
  if (earlier.mode !== mode) throw new Error(`--rerun: ${path} holds a ${earlier.mode} run, not a ${mode} one`);
  const byId = new Map<number, ScenarioOutcome>(
    earlier.scenarios.map((outcome) => [outcome.id, { ...outcome, ranAt: outcome.ranAt ?? earlier.startedAt }]),
  );
  for (const outcome of fresh) byId.set(outcome.id, outcome);
  const reran = [...new Set([...(earlier.reran ?? []), ...fresh.map((outcome) => outcome.id)])].sort((a, b) => a - b);
  return {
    outcomes: [...byId.values()].sort((a, b) => a.id - b.id),
    startedAt: earlier.startedAt,
    seconds: earlier.seconds,
    ...(earlier.commit ? { commit: earlier.commit } : {}),
    reran,
  };
}

export function machineDescription(): string {
  const cores = cpus();
  return `${cores.length} × ${cores[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${platform()} ${release()} (shared with other work: compare ratios, not absolutes)`;
}

export function writeResults(folder: string, info: RunInfo, outcomes: ScenarioOutcome[]): { json: string; markdown: string } {
  mkdirSync(join(folder, 'results'), { recursive: true });
  const json = join(folder, 'results', 'latest.json');
  writeFileSync(json, JSON.stringify({ ...info, scenarios: outcomes }, null, 2) + '\n');
  const markdown = join(folder, 'RESULTS.md');
  // The fault soak (npm run soak) keeps its own section in the same file: carried over as it is.
  const soak = existsSync(markdown) ? soakSectionOf(readFileSync(markdown, 'utf8')) : undefined;
  const rendered = renderMarkdown(info, outcomes, analysisOf(folder, info));
  writeFileSync(markdown, soak ? replaceSection(rendered, soak) : rendered);
  return { json, markdown };
}

const cell = (text: string) => text.replaceAll('|', '\\|');

/**
 * bench/analysis.md, written by hand after a full run (where the time goes, from the profiles and
 * the CPU figures), goes at the end of RESULTS.md for full runs; a quick run is no figure to explain.
 */
function analysisOf(folder: string, info: RunInfo): string | undefined {
  const path = join(folder, 'analysis.md');
  return info.mode === 'full' && existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
}

/** RESULTS.md again from results/latest.json (e.g. after editing analysis.md), without running anything. */
export function rerender(folder: string): string {
  const { scenarios, ...info } = JSON.parse(readFileSync(join(folder, 'results', 'latest.json'), 'utf8')) as RunInfo & {
    scenarios: ScenarioOutcome[];
  };
  return writeResults(folder, info, scenarios).markdown;
}

export function renderMarkdown(info: RunInfo, outcomes: ScenarioOutcome[], analysis?: string): string {
  const lines = [
    '# Benchmark results',
    '',
    `${info.mode === 'quick' ? '**Quick run** (`--quick`: every scenario briefly; a smoke run, not figures to quote).' : '**Full run.**'}`,
    `Written by \`${info.command}\` on ${info.startedAt} in ${Math.round(info.seconds)} s${info.commit ? `, at commit ${info.commit}` : ''}.`,
    ...(info.reran
      ? [
          `${info.reran.length === 1 ? `Scenario ${info.reran[0]} was` : `Scenarios ${info.reran.join(', ')} were`} run again afterwards (\`--only ${info.reran.join(',')} --rerun\`) because the first figures were disturbed by other work on the machine; when each scenario's figures were taken: ${outcomes.map((o) => `${o.id} at ${o.ranAt ?? '?'}${o.commit ? ` (commit ${o.commit})` : ''}`).join(', ')}.`,
        ]
      : []),
    '',
    `- Machine: ${info.machine}`,
    `- Node: ${info.node}`,
    `- Database: ${info.database}`,
    '',
    'Every figure is measured against a baseline in the same run on the same machine; the ratio is what holds.',
    '',
    '| Scenario | Figure | Value | Baseline | Ratio | Target | Result |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const outcome of outcomes) {
    if (outcome.skipped || outcome.error) {
      const why = outcome.skipped ? `skipped: ${outcome.skipped}` : `failed: ${outcome.error}`;
      lines.push(`| ${outcome.id}. ${outcome.name} | — | — | — | — | — | ${cell(why)} |`);
      continue;
    }
    for (const f of outcome.figures) {
      const baseline = f.baseline ? `${f.baseline.value} ${f.baseline.unit} (${f.baseline.what})` : '—';
      const result = f.pass === null ? 'info' : f.pass ? 'pass' : '**miss**';
      lines.push(
        `| ${cell(f.scenario)} | ${cell(f.figure)} | ${f.value} ${cell(f.unit)} | ${cell(baseline)} | ${f.ratio ?? '—'} | ${cell(f.target ?? '—')} | ${result} |`,
      );
    }
  }
  const notes = outcomes.flatMap((o) => o.figures.filter((f) => f.note).map((f) => `- ${f.scenario}: ${f.note}`));
  if (notes.length > 0) lines.push('', '## Notes', '', ...new Set(notes));
  if (analysis) lines.push('', analysis);
  lines.push('', 'Reproduce: see bench/README.md (`npm run bench`, `npm run bench -- --quick`).', '');
  return lines.join('\n');
}
