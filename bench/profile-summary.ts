import { readFileSync } from 'node:fs';

/**
 * Where a server's time went: self time by function and by origin (our src/, each package, Node
 * itself, idle, GC) from a .cpuprofile written by `npm run bench -- --profile`.
 * Usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top] [from-to seconds, e.g. 10.5-12]
 * Prints a busy-% timeline first, to find the window of interest.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, windowArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const [from, to] = (windowArg ?? '0-1e9').split('-').map(Number) as [number, number];
const selfMs = new Map<number, number>();
const BUCKET_MS = 250;
const busy: number[] = [];
const sampled: number[] = [];
let at = 0;
profile.samples.forEach((id, i) => {
  const ms = (profile.timeDeltas[i] ?? 0) / 1000;
  at += ms;
  const bucket = Math.floor(at / BUCKET_MS);
  sampled[bucket] = (sampled[bucket] ?? 0) + ms;
  if (byId.get(id)!.callFrame.functionName !== '(idle)') busy[bucket] = (busy[bucket] ?? 0) + ms;
  if (at >= from * 1000 && at <= to * 1000) selfMs.set(id, (selfMs.get(id) ?? 0) + ms);
});
console.log(
  'busy % per 250 ms: ' +
    sampled.map((ms, b) => `${((b * BUCKET_MS) / 1000).toFixed(2)}s:${Math.round((100 * (busy[b] ?? 0)) / (ms || 1))}`).join(' '),
);
const total = [...selfMs.values()].reduce((a, b) => a + b, 0);

function origin(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.includes('/src/')) return 'tidepass src/';
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

const functions = new Map<string, number>();
const origins = new Map<string, number>();
for (const [id, ms] of selfMs) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const where = url ? `${url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${lineNumber + 1}` : '';
  const key = `${functionName || '(anonymous)'} ${where}`;
  functions.set(key, (functions.get(key) ?? 0) + ms);
  const from = origin(url, functionName);
  origins.set(from, (origins.get(from) ?? 0) + ms);
}
const pct = (ms: number) => `${((100 * ms) / total).toFixed(1).padStart(5)}%`;
console.log(`${file}: ${(total / 1000).toFixed(1)} s sampled\n\nby origin:`);
for (const [name, ms] of [...origins].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${pct(ms)}  ${name}`);
console.log('\nby function (self time):');
for (const [name, ms] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 25))) {
  console.log(`  ${pct(ms)}  ${name}`);
}
