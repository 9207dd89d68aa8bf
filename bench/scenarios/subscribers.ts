import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { cannon, graphqlRequest } from '../lib/autocannon.js';
import { post, subscribeRevocations } from '../lib/clients.js';
import type { Scenario } from '../lib/context.js';
import { seedUsersWithSessions } from '../lib/fixtures.js';
import { describeCpu, startCpuMeter } from '../lib/cpu.js';
import { percentile, progress, round, sleep } from '../lib/progress.js';
import { openFileLimit, type ServerProcess } from '../lib/server.js';

const TARGET_KB = 20;
const TARGET_BURST_MS = 1000;
const CONNECT_BATCH = 250;
const SINGLE_SAMPLES = 5;
/** Sockets the load process needs besides the subscribers' (HTTP clients, the database, files). */
const SPARE_FILES = 500;

/**
 * 5. Subscriber capacity: N authenticated graphql-ws subscribers (10,000; 1,000 when quick), each a
 * different user, on one instance. Resident memory per subscriber over that of as many bare `ws`
 * connections (both read after a full garbage collection, so that what is counted is what the
 * subscribers hold, not the garbage of their handshakes); the time for one revocation (a logout) to reach its user's socket among them; and
 * the time for a burst of 1,000 logouts of different users (200 when quick), from issuing them to
 * the last event delivered.
 */
export const subscribers: Scenario = {
  id: 5,
  name: 'Subscriber capacity',
  async run(ctx) {
    let count = ctx.quick ? 1000 : 10_000;
    const burst = ctx.quick ? 200 : 1000;
    const limit = openFileLimit();
    if (count + SPARE_FILES > limit) {
      progress(`  the open-file limit is ${limit}: ${count} subscribers would not fit; bench/run.sh raises it (ulimit -n)`);
      count = Math.max(burst + SINGLE_SAMPLES + 10, limit - SPARE_FILES);
    }
    const seeded = await ctx.database.withHandle((db) => seedUsersWithSessions(db, count, 'subscriber'));
    progress(`  signing ${count} access tokens`);
    const tokens: string[] = [];
    for (const s of seeded) tokens.push(await ctx.signer.sign(s));

    const server = await ctx.startServer('subscribers', {}, { gcOnSignal: true });
    const arrivals = new Map<string, number>();
    const waiters = new Map<string, (at: number) => void>();
    const clients: Client[] = [];
    let perSubscriberKb: number;
    const single: number[] = [];
    let burstMs: number;
    let burstIssuedMs: number;
    let burstNote: string;
    try {
      // Warm-up: load the code paths (one subscriber and one request) before the first reading.
      const warm = await subscribeRevocations(server.url, tokens[count - 1]!, () => {});
      await post(server.url, { query: '{ me { id } }' }, tokens[count - 1]);
      await warm.dispose();
      await server.collectGarbage();
      const before = server.rssKb();

      progress(`  connecting ${count} subscribers`);
      for (let start = 0; start < count; start += CONNECT_BATCH) {
        const batch = seeded.slice(start, start + CONNECT_BATCH);
        clients.push(
          ...(await Promise.all(
            batch.map((s, i) =>
              subscribeRevocations(server.url, tokens[start + i]!, (event, at) => {
                if (!event.current) return;
                arrivals.set(event.sessionId, at);
                waiters.get(event.sessionId)?.(at);
              }),
            ),
          )),
        );
        if ((start / CONNECT_BATCH) % 8 === 7) progress(`  ${clients.length} subscribers`);
      }
      await sleep(ctx.quick ? 200 : 1000);
      await server.collectGarbage();
      const after = server.rssKb();
      perSubscriberKb = (after - before) / count;
      progress(`  RSS ${round(before / 1024, 1)} MB -> ${round(after / 1024, 1)} MB: ${round(perSubscriberKb, 1)} kB per subscriber`);

      const delivered = (sessionId: string) =>
        new Promise<number>((resolve) => {
          const at = arrivals.get(sessionId);
          if (at !== undefined) resolve(at);
          else waiters.set(sessionId, resolve);
        });

      for (let i = 0; i < SINGLE_SAMPLES; i += 1) {
        const arrived = delivered(seeded[i]!.sessionId);
        const issued = performance.now();
        const answer = await post(server.url, { query: 'mutation { logout }' }, tokens[i]);
        if (answer.data?.['logout'] !== true) throw new Error(`logout answered ${JSON.stringify(answer)}`);
        single.push((await withTimeout(arrived, 5000, 'a single revocation was not delivered within 5 s')) - issued);
      }
      progress(`  one revocation delivered in ${round(percentile(single, 50), 1)} ms (median of ${SINGLE_SAMPLES})`);

      const first = SINGLE_SAMPLES + 5;
      const burstUsers = seeded.slice(first, first + burst);
      const allDelivered = Promise.all(burstUsers.map((s) => delivered(s.sessionId)));
      progress(`  a burst of ${burst} logouts of different users`);
      let next = first;
      const meter = await startCpuMeter([server.pid], ctx.database);
      const benchCpu = process.cpuUsage();
      const started = performance.now();
      const answered = await cannon({
        url: server.url,
        connections: 50,
        amount: burst,
        setupClient: (client) => {
          client.setRequests([
            {
              ...graphqlRequest({ query: 'mutation { logout }' }),
              setupRequest: (request) => ({
                ...request,
                headers: { ...request.headers, authorization: `Bearer ${tokens[Math.min(next++, first + burst - 1)]}` },
              }),
            },
          ]);
        },
      });
      burstIssuedMs = answered.elapsedSeconds * 1000;
      const times = await withTimeout(allDelivered, 60_000, 'the burst was not delivered within 60 s');
      burstMs = Math.max(...times) - started;
      const spent = process.cpuUsage(benchCpu);
      burstNote = `burst: ${describeCpu(await meter.stop(), burst, 'logout')}; the load process (autocannon and the ${count} clients) ${(
        (spent.user + spent.system) / 1000 / burst
      ).toFixed(2)} ms per logout`;
      progress(`  ${burstNote}`);
      progress(`  burst: all ${burst} answered in ${round(burstIssuedMs, 0)} ms, delivered in ${round(burstMs, 0)} ms`);
    } finally {
      await Promise.all(clients.map((client) => client.dispose()));
      await server.stop();
    }

    const baselineKb = await bareWebSocketKb(ctx.spawnHelper, count, ctx.quick ? 200 : 1000);
    return [
      {
        scenario: '5. Subscriber capacity',
        figure: `resident memory per authenticated subscriber, ${count} subscribers`,
        value: round(perSubscriberKb, 1),
        unit: 'kB',
        baseline: { what: `${count} bare \`ws\` connections`, value: round(baselineKb, 1), unit: 'kB each' },
        ratio: round(perSubscriberKb / baselineKb, 2),
        target: `< ${TARGET_KB} kB`,
        pass: perSubscriberKb < TARGET_KB,
      },
      {
        scenario: '5. Subscriber capacity',
        figure: `one logout -> its user's socket, among ${count} (median / max of ${SINGLE_SAMPLES})`,
        value: round(percentile(single, 50), 1),
        unit: `ms / ${round(Math.max(...single), 1)} ms`,
        pass: null,
      },
      {
        scenario: '5. Subscriber capacity',
        figure: `burst of ${burst} logouts of different users -> all ${burst} sockets`,
        value: round(burstMs, 0),
        unit: `ms (all answered after ${round(burstIssuedMs, 0)} ms)`,
        target: `< ${TARGET_BURST_MS} ms`,
        pass: burstMs < TARGET_BURST_MS,
        note: burstNote,
      },
    ];
  },
};

async function bareWebSocketKb(
  spawnHelper: Parameters<Scenario['run']>[0]['spawnHelper'],
  count: number,
  settleMs: number,
): Promise<number> {
  progress(`  baseline: ${count} bare ws connections`);
  const server: ServerProcess = await spawnHelper({ name: 'bare-ws', entry: 'bench/baselines/ws-server.ts', env: {}, gcOnSignal: true });
  const sockets: WebSocket[] = [];
  try {
    const open = () =>
      new Promise<WebSocket>((resolve, reject) => {
        const socket = new WebSocket(`${server.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
        socket.once('open', () => resolve(socket));
        socket.once('error', reject);
      });
    // Warm-up, as for the real server.
    (await open()).close();
    await server.collectGarbage();
    const before = server.rssKb();
    for (let start = 0; start < count; start += CONNECT_BATCH) {
      sockets.push(...(await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH, count - start) }, open))));
    }
    await sleep(settleMs);
    await server.collectGarbage();
    return (server.rssKb() - before) / count;
  } finally {
    for (const socket of sockets) socket.terminate();
    await server.stop();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
  ]);
}
