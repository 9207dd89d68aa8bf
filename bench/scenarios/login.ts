import { cannon, graphqlRequest } from '../lib/autocannon.js';
import type { Scenario } from '../lib/context.js';
import { BENCH_PASSWORD, seedUsersWithSessions } from '../lib/fixtures.js';
import { progress, round } from '../lib/progress.js';
import { runScript } from '../lib/server.js';

const CONCURRENCY = 16;
const TARGET = 0.8;
const QUERY = `mutation ($email: String!, $password: String!) {
  login(email: $email, password: $password, deviceName: "bench") { accessToken refreshToken } }`;

/**
 * 3. Login: logins/s through GraphQL over argon2id hashes/s with the same parameters and concurrency,
 * in a process of its own. The hash should be the whole cost.
 */
export const login: Scenario = {
  id: 3,
  name: 'Login',
  async run(ctx) {
    const seconds = ctx.quick ? 3 : 12;
    const seeded = await ctx.database.withHandle((db) => seedUsersWithSessions(db, CONCURRENCY, 'login'));

    progress(`  argon2id baseline, ${CONCURRENCY} at a time, ${seconds} s`);
    const hashing = JSON.parse(await runScript('bench/baselines/argon2.ts', [String(CONCURRENCY), String(seconds)])) as {
      hashes: number;
      seconds: number;
    };
    const hashRate = hashing.hashes / hashing.seconds;

    const server = await ctx.startServer('login');
    let failures = 0;
    let loginRate: number;
    try {
      progress(`  logins through GraphQL, ${CONCURRENCY} connections, ${seconds} s`);
      let next = 0;
      const setupClient = (client: import('autocannon').Client) => {
        const user = seeded[next++ % seeded.length]!;
        client.setRequests([
          {
            ...graphqlRequest({ query: QUERY, variables: { email: user.email, password: BENCH_PASSWORD } }),
            onResponse: (_status, body) => {
              if (!body.includes('"accessToken"')) failures += 1;
            },
          },
        ]);
      };
      await cannon({ url: server.url, connections: CONCURRENCY, duration: 1, setupClient }); // warm-up
      next = 0;
      const result = await cannon({ url: server.url, connections: CONCURRENCY, duration: seconds, setupClient });
      loginRate = result.requests.total / result.duration;
    } finally {
      await server.stop();
    }
    if (failures > 0) throw new Error(`${failures} logins failed`);
    const ratio = loginRate / hashRate;
    progress(`  ${round(loginRate, 1)} logins/s vs ${round(hashRate, 1)} hashes/s`);
    return [
      {
        scenario: '3. Login',
        figure: `logins/s through GraphQL, ${CONCURRENCY} concurrent`,
        value: round(loginRate, 1),
        unit: 'logins/s',
        baseline: { what: `argon2id hashes/s, same parameters, ${CONCURRENCY} concurrent`, value: round(hashRate, 1), unit: 'hashes/s' },
        ratio: round(ratio, 3),
        target: `ratio >= ${TARGET}`,
        pass: ratio >= TARGET,
      },
    ];
  },
};
