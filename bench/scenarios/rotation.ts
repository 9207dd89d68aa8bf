import { rotateDirectly } from '../baselines/rotation-sql.js';
import { cannon, graphqlRequest } from '../lib/autocannon.js';
import type { Scenario } from '../lib/context.js';
import { seedRefreshTokens, seedUsersWithSessions } from '../lib/fixtures.js';
import { percentile, progress, round } from '../lib/progress.js';

const CLIENTS = 32;
const TARGET = 0.5;
/** The product's pool size (src/db/client.ts): the baseline gets the same number of connections. */
const POOL = 10;
const QUERY = 'mutation ($t: String) { refresh(refreshToken: $t) { accessToken refreshToken } }';

/**
 * 2. Refresh rotation: rotations/s through the GraphQL API, 32 clients each with its own session
 * (each sends its successor token next), over the same number of rotations issued directly as the
 * cheapest correct SQL (bench/baselines/rotation-sql.ts) at the same concurrency.
 */
export const rotation: Scenario = {
  id: 2,
  name: 'Refresh rotation',
  async run(ctx) {
    const perClient = ctx.quick ? 15 : 150;
    const total = CLIENTS * perClient;
    const tokens = await ctx.database.withHandle(async (db) => {
      const seeded = await seedUsersWithSessions(db, CLIENTS, 'rotation');
      return seedRefreshTokens(db, seeded.map((s) => s.sessionId));
    });

    const server = await ctx.startServer('rotation');
    let api;
    let failures = 0;
    try {
      progress(`  ${total} rotations through the API`);
      let next = 0;
      api = await cannon({
        url: server.url,
        connections: CLIENTS,
        amount: total,
        setupClient: (client) => {
          const slot = next++;
          let current = tokens[slot]!;
          client.setRequests([
            {
              ...graphqlRequest({ query: QUERY }),
              setupRequest: (request) => ({ ...request, body: JSON.stringify({ query: QUERY, variables: { t: current } }) }),
              onResponse: (_status, body) => {
                const parsed = JSON.parse(body) as { data?: { refresh?: { refreshToken?: string } } };
                const successor = parsed.data?.refresh?.refreshToken;
                if (successor) current = successor;
                else failures += 1;
              },
            },
          ]);
        },
      });
    } finally {
      await server.stop();
    }
    if (failures > 0) throw new Error(`${failures} of ${total} rotations through the API failed`);
    const apiRate = api.requests.total / (api.duration || 1);

    progress(`  ${total} rotations issued directly (${ctx.database.kind === 'postgres' ? 'postgres.js' : 'PGlite'})`);
    const direct = await ctx.database.direct({ max: POOL });
    let baselineRate: number;
    const latencies: number[] = [];
    try {
      // On PGlite the baseline has its own in-memory database: the server's folder is not shared.
      const fresh = await seedRefreshTokens(
        direct.db,
        (await seedUsersWithSessions(direct.db, CLIENTS, 'rotation-direct')).map((s) => s.sessionId),
      );
      const started = performance.now();
      await Promise.all(
        fresh.map(async (first) => {
          let current = first;
          for (let i = 0; i < perClient; i += 1) {
            const t0 = performance.now();
            const successor = await rotateDirectly(direct, current);
            latencies.push(performance.now() - t0);
            if (!successor) throw new Error('a direct rotation was refused');
            current = successor;
          }
        }),
      );
      baselineRate = total / ((performance.now() - started) / 1000);
    } finally {
      await direct.close();
    }
    const ratio = apiRate / baselineRate;
    progress(`  ${round(apiRate, 0)} vs ${round(baselineRate, 0)} rotations/s`);
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
      },
      {
        scenario: '2. Refresh rotation',
        figure: 'latency through GraphQL, p50 / p99',
        value: api.latency.p50,
        unit: `ms p50 / ${api.latency.p99} ms p99`,
        baseline: {
          what: 'direct SQL, p50 / p99',
          value: round(percentile(latencies, 50), 2),
          unit: `ms / ${round(percentile(latencies, 99), 2)} ms`,
        },
        pass: null,
      },
    ];
  },
};
