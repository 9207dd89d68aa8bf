import { cannon, graphqlRequest } from '../lib/autocannon.js';
import type { Scenario } from '../lib/context.js';
import { BENCH_PASSWORD, seedUsersWithSessions } from '../lib/fixtures.js';
import { describeCpu, startCpuMeter, type CpuReading } from '../lib/cpu.js';
import { progress, round } from '../lib/progress.js';
import { runScript } from '../lib/server.js';

const CONCURRENCY = 16;
const TARGET = 0.8;
/**
 * Users per connection: each login is of a user with fewer live sessions than MAX_SESSIONS_PER_USER
 * (10), as most logins are. (Logging the same 16 users in again and again would make every login
 * past the tenth also end a session, a revocation, which scenario 5 measures.)
 */
const USERS_PER_CONNECTION = 80;
const QUERY = `mutation ($email: String!, $password: String!) {
  login(email: $email, password: $password, deviceName: "bench") { accessToken refreshToken } }`;

/**
 * 3. Login: logins/s through GraphQL over argon2id hashes/s with the same parameters and concurrency,
 * in a process of its own. The hash should be the whole cost. Beside them, each round, the ceiling:
 * the same load on a bare GraphQL server that does nothing but verify and sign (no database), which
 * shows what the HTTP and GraphQL layers, the load generator and the thread switches cost on this
 * machine before tidepass does anything. The three alternate in rounds, so that the machine's noise
 * falls on all alike.
 */
export const login: Scenario = {
  id: 3,
  name: 'Login',
  async run(ctx) {
    const rounds = ctx.quick ? 1 : 3;
    const seconds = ctx.quick ? 3 : 5;
    const seeded = await ctx.database.withHandle((db) =>
      seedUsersWithSessions(db, CONCURRENCY * USERS_PER_CONNECTION, 'login'),
    );

    const server = await ctx.startServer('login');
    const ceiling = await ctx.spawnHelper({ name: 'login-ceiling', entry: 'bench/baselines/login-ceiling-server.ts', env: {} });
    let failures = 0;
    let ceilingLogins = 0;
    let ceilingSeconds = 0;
    let logins = 0;
    let loginSeconds = 0;
    let hashes = 0;
    let hashSeconds = 0;
    let loggedIn = 0;
    let hashCpuMs = 0;
    const loginCpu: CpuReading[] = [];
    try {
      let connection = 0;
      const setupClient = (client: import('autocannon').Client) => {
        const mine = connection++ % CONCURRENCY;
        client.setRequests([
          {
            ...graphqlRequest({ query: QUERY }),
            // The next user of this connection's own share: never two connections on one user.
            setupRequest: (request) => {
              const user = seeded[mine * USERS_PER_CONNECTION + (loggedIn++ % USERS_PER_CONNECTION)]!;
              return { ...request, body: JSON.stringify({ query: QUERY, variables: { email: user.email, password: BENCH_PASSWORD } }) };
            },
            onResponse: (_status, body) => {
              if (!body.includes('"accessToken"')) failures += 1;
            },
          },
        ]);
      };
      progress('  warming up');
      await cannon({ url: server.url, connections: CONCURRENCY, duration: 1, setupClient });
      await cannon({ url: ceiling.url, connections: CONCURRENCY, duration: 1, setupClient });
      for (let r = 0; r < rounds; r += 1) {
        const hashing = JSON.parse(await runScript('bench/baselines/argon2.ts', [String(CONCURRENCY), String(seconds)])) as {
          hashes: number;
          seconds: number;
          cpuMs: number;
        };
        hashes += hashing.hashes;
        hashCpuMs += hashing.cpuMs;
        hashSeconds += hashing.seconds;
        connection = 0;
        const meter = await startCpuMeter([server.pid], ctx.database);
        const result = await cannon({ url: server.url, connections: CONCURRENCY, duration: seconds, setupClient });
        loginCpu.push(await meter.stop());
        logins += result.requests.total;
        loginSeconds += result.duration;
        const bare = await cannon({ url: ceiling.url, connections: CONCURRENCY, duration: seconds, setupClient });
        ceilingLogins += bare.requests.total;
        ceilingSeconds += bare.duration;
        progress(
          `  round ${r + 1}/${rounds}: ${round(result.requests.total / result.duration, 1)} logins/s vs ${round(hashing.hashes / hashing.seconds, 1)} hashes/s; ceiling ${round(bare.requests.total / bare.duration, 1)}/s`,
        );
      }
    } finally {
      await Promise.all([server.stop(), ceiling.stop()]);
    }
    if (failures > 0) throw new Error(`${failures} logins failed`);
    const loginRate = logins / loginSeconds;
    const hashRate = hashes / hashSeconds;
    const ratio = loginRate / hashRate;
    const ceilingRate = ceilingLogins / ceilingSeconds;
    const cpu: CpuReading = {
      serverMainMs: loginCpu.reduce((a, r) => a + r.serverMainMs, 0),
      serverOtherMs: loginCpu.reduce((a, r) => a + r.serverOtherMs, 0),
      databaseMs: loginCpu.reduce((a, r) => a + r.databaseMs, 0),
    };
    const note = `${describeCpu(cpu, logins, 'login')}; argon2id alone: ${(hashCpuMs / hashes).toFixed(2)} ms CPU per hash`;
    progress(`  ${note}`);
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
        note,
      },
      {
        scenario: '3. Login (ceiling)',
        figure: `logins/s through a bare graphql-yoga server that only verifies the password and signs a token (no database), ${CONCURRENCY} concurrent`,
        value: round(ceilingRate, 1),
        unit: 'logins/s',
        baseline: { what: 'the same argon2id hashes/s', value: round(hashRate, 1), unit: 'hashes/s' },
        ratio: round(ceilingRate / hashRate, 3),
        pass: null,
        note: 'the most any login through GraphQL reaches on this machine: read scenario 3 against it',
      },
    ];
  },
};
