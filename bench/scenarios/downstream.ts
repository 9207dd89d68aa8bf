import postgres from 'postgres';
import { cannon, graphqlRequest } from '../lib/autocannon.js';
import { post } from '../lib/clients.js';
import { Skip, type Scenario } from '../lib/context.js';
import { seedSessions, seedUsersWithSessions } from '../lib/fixtures.js';
import { percentile, progress, round, sleep } from '../lib/progress.js';
import type { Figure } from '../lib/results.js';
import type { ServerProcess } from '../lib/server.js';

const TARGET_P99_MS = 50;
const TARGET_RATIO = 0.95;
const CONNECTIONS = 50;
const CHANNEL = 'tidepass_bench_downstream_ping';
const FEED_KEY = 'bench-downstream-feed-key-0123456789abcdef';

/**
 * 6. Revocation reach beyond tidepass: a downstream service (bench/baselines/downstream-service.ts,
 * @tidepass/verifier) beside one tidepass. (a) From revokeDevice's response on tidepass to the first
 * SESSION_REVOKED from the downstream service, against a bare NOTIFY round trip. (b) The downstream
 * service's requests/s with the verifier over the same service with a plain jose.jwtVerify.
 */
export const downstream: Scenario = {
  id: 6,
  name: 'Revocation reach downstream',
  async run(ctx) {
    if (ctx.database.kind !== 'postgres') {
      throw new Skip('the baseline is a NOTIFY round trip: set DATABASE_URL or TEST_DATABASE_URL');
    }
    const rounds = ctx.quick ? 30 : 250;
    const { owner, targets, readers } = await ctx.database.withHandle(async (db) => {
      const [owner] = await seedUsersWithSessions(db, 1, 'downstream');
      return {
        owner: owner!,
        targets: await seedSessions(db, owner!.userId, rounds),
        readers: await seedUsersWithSessions(db, CONNECTIONS, 'downstream-load'),
      };
    });
    const ownerToken = await ctx.signer.sign(owner);
    const targetTokens = await Promise.all(targets.map((sessionId) => ctx.signer.sign({ userId: owner.userId, sessionId })));
    const readerTokens = await Promise.all(readers.map((reader) => ctx.signer.sign(reader)));

    const tidepass = await ctx.startServer('downstream-tidepass', { REVOCATION_FEED_KEYS: FEED_KEY });
    const helper = (mode: 'verifier' | 'jose') =>
      ctx.spawnHelper({
        name: `downstream-${mode}`,
        entry: 'bench/baselines/downstream-service.ts',
        env: { TIDEPASS_URL: tidepass.url, FEED_KEY, VERIFY_MODE: mode, ...ctx.signer.serverEnv },
        readyPath: '/health',
      });
    const services: ServerProcess[] = [];
    try {
      const verifying = await helper('verifier');
      services.push(verifying);
      const plain = await helper('jose');
      services.push(plain);
      progress(`  ${rounds} revocations on tidepass, refused by the downstream service`);
      const reach = await revocationReach(tidepass.url, verifying.url, ownerToken, targets, targetTokens);
      progress('  requests/s: verifier against plain jose.jwtVerify');
      const rates = await throughput(ctx.quick, verifying.url, plain.url, readerTokens);
      const baseline = await notifyRoundTrips(ctx.database.serverEnv['DATABASE_URL']!, rounds);
      return [reachFigure(reach, baseline), rateFigure(rates)];
    } finally {
      for (const service of services) await service.stop();
      await tidepass.stop();
    }
  },
};

async function revocationReach(tidepassUrl: string, serviceUrl: string, ownerToken: string, targets: string[], tokens: string[]) {
  const delays: number[] = [];
  for (const [i, sessionId] of targets.entries()) {
    const before = await post(serviceUrl, { query: '{ me { userId } }' }, tokens[i]);
    if (before.errors) throw new Error(`the downstream service refused a live session: ${JSON.stringify(before.errors)}`);
    const answer = await post(tidepassUrl, { query: 'mutation ($id: ID!) { revokeDevice(sessionId: $id) }', variables: { id: sessionId } }, ownerToken);
    const responded = performance.now();
    if (answer.data?.['revokeDevice'] !== true) throw new Error(`revokeDevice answered ${JSON.stringify(answer)}`);
    for (;;) {
      const me = await post(serviceUrl, { query: '{ me { userId } }' }, tokens[i]);
      if (me.errors?.[0]?.extensions?.code === 'SESSION_REVOKED') break;
      if (performance.now() - responded > 5000) throw new Error('the downstream service still accepts a revoked session after 5 s');
    }
    delays.push(performance.now() - responded);
  }
  return delays;
}

/** Alternating runs, so that the machine's noise falls on both alike. */
async function throughput(quick: boolean, verifyingUrl: string, plainUrl: string, tokens: string[]) {
  const run = async (url: string, duration: number) => {
    let next = 0;
    const result = await cannon({
      url,
      connections: CONNECTIONS,
      duration,
      setupClient: (client) => {
        client.setRequests([graphqlRequest({ query: '{ me { userId } }' }, { authorization: `Bearer ${tokens[next++ % tokens.length]}` })]);
      },
    });
    return result.requests.average;
  };
  await run(verifyingUrl, 1);
  await run(plainUrl, 1);
  const verifying: number[] = [];
  const plain: number[] = [];
  for (let r = 0; r < (quick ? 1 : 3); r += 1) {
    verifying.push(await run(verifyingUrl, quick ? 2 : 6));
    plain.push(await run(plainUrl, quick ? 2 : 6));
    progress(`  round ${r + 1}: ${round(verifying.at(-1)!, 0)} vs ${round(plain.at(-1)!, 0)} req/s`);
  }
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  return { verifying: mean(verifying), plain: mean(plain) };
}

async function notifyRoundTrips(url: string, rounds: number): Promise<number[]> {
  progress(`  baseline: ${rounds} bare NOTIFY -> LISTEN round trips`);
  const listen = postgres(url, { max: 1, onnotice: () => {} });
  const notify = postgres(url, { max: 1, onnotice: () => {} });
  const delays: number[] = [];
  try {
    let received: ((at: number) => void) | undefined;
    await listen.listen(CHANNEL, () => received?.(performance.now()));
    await notify`select 1`;
    for (let i = 0; i < rounds; i += 1) {
      const arrived = new Promise<number>((resolve) => (received = resolve));
      const sent = performance.now();
      await notify.notify(CHANNEL, String(i));
      delays.push((await Promise.race([arrived, sleep(5000).then(() => Number.NaN)])) - sent);
    }
  } finally {
    await listen.end({ timeout: 2 });
    await notify.end({ timeout: 2 });
  }
  return delays;
}

function reachFigure(delays: number[], baseline: number[]): Figure {
  const p99 = percentile(delays, 99);
  const base99 = percentile(baseline, 99);
  return {
    scenario: '6. Revocation reach downstream',
    figure: `revokeDevice on tidepass -> first SESSION_REVOKED from the downstream service, p50 / p99 over ${delays.length}`,
    value: round(percentile(delays, 50), 1),
    unit: `ms p50 / ${round(p99, 1)} ms p99`,
    baseline: { what: 'bare NOTIFY -> LISTEN, p50 / p99', value: round(percentile(baseline, 50), 2), unit: `ms / ${round(base99, 2)} ms` },
    ratio: round(p99 / base99, 1),
    target: `p99 < ${TARGET_P99_MS} ms`,
    pass: p99 < TARGET_P99_MS,
    note: 'ratio: p99 over the baseline p99 (a lower-is-better figure)',
  };
}

function rateFigure(rates: { verifying: number; plain: number }): Figure {
  const ratio = rates.verifying / rates.plain;
  return {
    scenario: '6. Revocation reach downstream',
    figure: `the downstream service's \`{ me { userId } }\` with @tidepass/verifier, ${CONNECTIONS} connections`,
    value: round(rates.verifying, 0),
    unit: 'req/s',
    baseline: { what: 'the same service with a plain jose.jwtVerify against a local key', value: round(rates.plain, 0), unit: 'req/s' },
    ratio: round(ratio, 3),
    target: `ratio >= ${TARGET_RATIO}`,
    pass: ratio >= TARGET_RATIO,
  };
}
