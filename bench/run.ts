import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Skip, type BenchContext, type Scenario } from './lib/context.js';
import { openBenchDatabase } from './lib/database.js';
import { createSigner } from './lib/fixtures.js';
import { progress } from './lib/progress.js';
import { machineDescription, mergeWithEarlier, rerender, writeResults } from './lib/report.js';
import type { ScenarioOutcome } from './lib/results.js';
import { spawnServer } from './lib/server.js';
import { authOverhead } from './scenarios/auth-overhead.js';
import { downstream } from './scenarios/downstream.js';
import { login } from './scenarios/login.js';
import { propagation } from './scenarios/propagation.js';
import { rotation } from './scenarios/rotation.js';
import { subscribers } from './scenarios/subscribers.js';

/**
 * npm run bench [-- --quick] [-- --only 1,5] [-- --rerun] [-- --profile] [-- --out DIR] [-- --render]
 * Starts its own servers (child processes) and drives them from this process; writes
 * bench/results/latest.json and bench/RESULTS.md (under DIR instead with --out, so that a smoke run
 * in CI does not overwrite the committed figures). Asserts no speed: a missed target is reported;
 * a scenario that crashes makes the exit code 1. With --rerun (and --only), the scenarios run
 * replace theirs in the existing results of the same mode and the others are kept: for a figure
 * disturbed by other work on the machine; RESULTS.md says when each scenario ran.
 */
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const profile = args.includes('--profile');
const rerun = args.includes('--rerun');
const onlyArg = args.find((arg) => arg.startsWith('--only'));
const only = onlyArg
  ? new Set((onlyArg.includes('=') ? onlyArg.split('=')[1]! : args[args.indexOf(onlyArg) + 1] ?? '').split(',').map(Number))
  : undefined;
const benchFolder = fileURLToPath(new URL('.', import.meta.url));
const outArg = args.find((arg) => arg.startsWith('--out'));
const outValue = outArg && (outArg.includes('=') ? outArg.split('=')[1] : args[args.indexOf(outArg) + 1]);
if (outArg && !outValue) throw new Error('--out needs a folder: --out DIR');
const outFolder = outValue ? resolve(outValue) : benchFolder;
/** A scenario that hangs fails the run instead of hanging CI. */
const SCENARIO_TIMEOUT_MS = (quick ? 3 : 20) * 60_000;
if (args.includes('--render')) {
  // Only RESULTS.md again from the results in place (after editing bench/analysis.md).
  progress(`rewrote ${rerender(outFolder)}`);
  process.exit(0);
}
const scenarios: Scenario[] = [authOverhead, rotation, login, propagation, subscribers, downstream].filter(
  (scenario) => !only || only.has(scenario.id),
);

const started = performance.now();
const startedAt = new Date().toISOString();
const commit = codeVersion();
const workDir = mkdtempSync(join(tmpdir(), 'tidepass-bench-run-'));
const profileDir = profile ? join(benchFolder, 'results', 'profiles') : undefined;

progress(`${quick ? 'quick' : 'full'} run of ${scenarios.length} scenarios; node ${process.version}`);
const database = await openBenchDatabase();
progress(`database: ${database.description}`);
const signer = await createSigner();

const ctx: BenchContext = {
  quick,
  database,
  signer,
  async startServer(name, env = {}, options = {}) {
    progress(`  starting tidepass server "${name}"`);
    return spawnServer({
      name,
      entry: 'src/main.ts',
      env: { ...database.serverEnv, ...signer.serverEnv, ...env },
      logDir: workDir,
      cpuProfileDir: profileDir,
      ...options,
    });
  },
  spawnHelper: (options) => spawnServer({ ...options, logDir: workDir }),
};

const outcomes: ScenarioOutcome[] = [];
let failed = false;
try {
  for (const scenario of scenarios) {
    const t0 = performance.now();
    progress(`scenario ${scenario.id}: ${scenario.name}`);
    const seconds = () => Math.round((performance.now() - t0) / 100) / 10;
    try {
      const figures = await withDeadline(scenario.run(ctx), SCENARIO_TIMEOUT_MS);
      outcomes.push({ id: scenario.id, name: scenario.name, figures, seconds: seconds(), ranAt: new Date().toISOString(), commit });
      for (const f of figures) {
        const verdict = f.pass === null ? '' : f.pass ? '  [pass]' : '  [MISS]';
        progress(`  => ${f.figure}: ${f.value} ${f.unit}${f.ratio !== undefined ? `, ratio ${f.ratio}` : ''}${verdict}`);
      }
    } catch (error) {
      if (error instanceof Skip) {
        progress(`  skipped: ${error.message}`);
        outcomes.push({ id: scenario.id, name: scenario.name, figures: [], skipped: error.message, seconds: seconds() });
      } else {
        failed = true;
        const message = error instanceof Error ? error.message : String(error);
        progress(`  FAILED: ${message}`);
        outcomes.push({ id: scenario.id, name: scenario.name, figures: [], error: message, seconds: seconds() });
      }
    }
  }
} finally {
  await database.close();
  if (!failed) rmSync(workDir, { recursive: true, force: true });
  else progress(`server logs kept in ${workDir}`);
}

const merged = rerun ? mergeWithEarlier(outFolder, quick ? 'quick' : 'full', outcomes) : undefined;
const written = writeResults(
  outFolder,
  {
    mode: quick ? 'quick' : 'full',
    startedAt: merged?.startedAt ?? startedAt,
    commit: merged?.commit ?? commit,
    seconds: merged?.seconds ?? (performance.now() - started) / 1000,
    ...(merged && merged.reran.length > 0 ? { reran: merged.reran } : {}),
    machine: machineDescription(),
    node: process.version,
    database: database.description,
    command: `npm run bench${quick ? ' -- --quick' : ''}`,
  },
  merged?.outcomes ?? outcomes,
);
progress(`wrote ${written.json} and ${written.markdown}${profileDir ? `; CPU profiles in ${profileDir}` : ''}`);
// A scenario that could not run is a failure of the benchmark; a missed target is not.
process.exit(failed ? 1 : 0);

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish within ${ms / 60_000} min`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** The commit measured, with "+changes" when src/ or bench/ differ from it. */
function codeVersion(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: benchFolder, encoding: 'utf8' }).trim();
    const changed = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench/scenarios', 'bench/lib', 'bench/baselines'], {
      cwd: join(benchFolder, '..'),
      encoding: 'utf8',
    }).trim();
    return changed ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}
