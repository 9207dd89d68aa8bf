import { rotateDirectly } from '../baselines/rotation-sql.js';
import { cannon, graphqlRequest, type CannonResult } from '../lib/autocannon.js';
import type { Scenario } from '../lib/context.js';
import { seedRefreshTokens, seedUsersWithSessions } from '../lib/fixtures.js';
import { describeCpu, startCpuMeter, type CpuReading } from '../lib/cpu.js';
import { percentile, progress, round } from '../lib/progress.js';

const CLIENTS = 32;
const TARGET = 0.5;
/** The product's pool size (src/db/client.ts): the baseline gets the same number of connections. */
const POOL = 10;
const QUERY = 'mutation ($t: String) { refresh(refreshToken: $t) { accessToken refreshToken } }';

/**
 * 2. Refresh rotation: rotations/s through the GraphQL API, 32 clients each with its own session
 * (each sends its successor token next), over the same number of rotations issued directly as the
 * cheapest correct SQL (bench/baselines/rotation-sql.ts) at the same concurrency. The two alternate
 * in rounds, so that the machine's noise falls on both alike.
 */
export const rotation: Scenario = {
  id: 2,
  name: 'Refresh rotation',
  async run(ctx) {
    const rounds = ctx.quick ? 1 : 3;
    const perClient = ctx.quick ? 15 : 50;
    const perRound = CLIENTS * perClient;
    const apiTokens = await ctx.database.withHandle(async (db) => {
      const seeded = await seedUsersWithSessions(db, CLIENTS, 'rotation');
      return seedRefreshTokens(db, seeded.map((s) => s.sessionId));
    });
    // On PGlite the baseline has its own in-memory database: the server holds the data folder.
    const direct = await ctx.database.direct({ max: POOL });
    const server = await ctx.startServer('rotation').catch(async (error: unknown) => {
      await direct.close();
      throw error;
    });
    const apiLatencies: number[] = [];
    const directLatencies: number[] = [];
    let apiSeconds = 0;
    let directSeconds = 0;
    let failures = 0;
    let measuring = false;
    const apiCpu: CpuReading[] = [];
    const directCpu: CpuReading[] = [];
    try {
      let directTokens = await seedRefreshTokens(
        direct.db,
        (await seedUsersWithSessions(direct.db, CLIENTS, 'rotation-direct')).map((s) => s.sessionId),
      );
      const throughApi = async (amount: number): Promise<CannonResult> => {
        let next = 0;
        return cannon({
          url: server.url,
          connections: CLIENTS,
          amount,
          setupClient: (client) => {
            const slot = next++;
            let sentAt = 0;
            client.setRequests([
              {
                ...graphqlRequest({ query: QUERY }),
                setupRequest: (request) => {
                  sentAt = performance.now();
                  return { ...request, body: JSON.stringify({ query: QUERY, variables: { t: apiTokens[slot] } }) };
                },
                onResponse: (_status, body) => {
                  if (measuring) apiLatencies.push(performance.now() - sentAt);
                  const parsed = JSON.parse(body) as { data?: { refresh?: { refreshToken?: string } } };
                  const successor = parsed.data?.refresh?.refreshToken;
                  if (successor) apiTokens[slot] = successor;
                  else failures += 1;
                },
              },
            ]);
          },
        });
      };
      const directly = async (each: number): Promise<number> => {
        const started = performance.now();
        directTokens = await Promise.all(
          directTokens.map(async (first) => {
            let current = first;
            for (let i = 0; i < each; i += 1) {
              const t0 = performance.now();
              const successor = await rotateDirectly(direct, current);
              directLatencies.push(performance.now() - t0);
              if (!successor) throw new Error('a direct rotation was refused');
              current = successor;
            }
            return current;
          }),
        );
        return (performance.now() - started) / 1000;
      };

      // Long enough for the JIT and for every pooled connection to have prepared its statements.
      const warmUp = ctx.quick ? 3 : 20;
      progress(`  warming up: ${warmUp} rotations per client each way`);
      await throughApi(CLIENTS * warmUp);
      await directly(warmUp);
      directLatencies.length = 0;
      measuring = true;
      if (failures > 0) throw new Error(`${failures} warm-up rotations through the API failed`);
      for (let r = 0; r < rounds; r += 1) {
        let meter = await startCpuMeter([server.pid], ctx.database);
        const api = await throughApi(perRound);
        apiCpu.push(await meter.stop());
        apiSeconds += api.elapsedSeconds;
        meter = await startCpuMeter([], ctx.database);
        const seconds = await directly(perClient);
        directCpu.push(await meter.stop());
        directSeconds += seconds;
        const a = apiCpu.at(-1)!;
        progress(
          `  round ${r + 1}/${rounds}: ${perRound} rotations, ${round(perRound / api.elapsedSeconds, 0)} vs ${round(perRound / seconds, 0)} rotations/s` +
            ` (CPU per rotation through GraphQL: ${round(a.serverMainMs / perRound, 2)} ms server, ${round(a.databaseMs / perRound, 2)} ms PostgreSQL; directly: ${round(directCpu.at(-1)!.databaseMs / perRound, 2)} ms PostgreSQL)`,
        );
      }
    } finally {
      await server.stop();
      await direct.close();
    }
    if (failures > 0) throw new Error(`${failures} rotations through the API failed`);
    const apiRate = (rounds * perRound) / apiSeconds;
    const baselineRate = (rounds * perRound) / directSeconds;
    const ratio = apiRate / baselineRate;
    const total = rounds * perRound;
    const sum = (readings: CpuReading[]): CpuReading => ({
      serverMainMs: readings.reduce((a, r) => a + r.serverMainMs, 0),
      serverOtherMs: readings.reduce((a, r) => a + r.serverOtherMs, 0),
      databaseMs: readings.reduce((a, r) => a + r.databaseMs, 0),
    });
    const directDb = sum(directCpu).databaseMs;
    const note = `${describeCpu(sum(apiCpu), total, 'rotation through GraphQL')}; direct SQL: ${
      Number.isNaN(directDb) ? 'database in process' : `${(directDb / total).toFixed(2)} ms PostgreSQL`
    } per rotation`;
    progress(`  ${note}`);
    return [
      {
        scenario: '2. Refresh rotation',
        figure: `rotations/s through GraphQL, ${CLIENTS} clients with a session each`,
        value: round(apiRate, 0),
        unit: 'rotations/s',
        baseline: {
          what: `the same rotation as one SQL statement, ${ctx.database.kind === 'postgres' ? 'postgres.js' : 'PGlite'}, ${CLIENTS} concurrent`,
          value: round(baselineRate, 0),
          unit: 'rotations/s',
        },
        ratio: round(ratio, 3),
        target: `ratio >= ${TARGET}`,
        pass: ratio >= TARGET,
        note,
      },
      {
        scenario: '2. Refresh rotation',
        figure: 'latency through GraphQL, p50 / p99',
        value: round(percentile(apiLatencies, 50), 1),
        unit: `ms p50 / ${round(percentile(apiLatencies, 99), 1)} ms p99`,
        baseline: {
          what: 'direct SQL, p50 / p99',
          value: round(percentile(directLatencies, 50), 2),
          unit: `ms / ${round(percentile(directLatencies, 99), 2)} ms`,
        },
        pass: null,
      },
    ];
  },
};
