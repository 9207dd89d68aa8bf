import { cannon, graphqlRequest } from '../lib/autocannon.js';
import type { Scenario } from '../lib/context.js';
import { seedUsersWithSessions } from '../lib/fixtures.js';
import { describeCpu, startCpuMeter, type CpuReading } from '../lib/cpu.js';
import { progress, round } from '../lib/progress.js';

const CONNECTIONS = 50;
const TARGET = 0.85;

/**
 * 1. What authentication costs a request: `{ me { id } }` with a bearer token (one distinct token per
 * connection) over `{ __typename }` without one, same server, 50 connections. The two alternate so
 * that the machine's noise falls on both alike.
 */
export const authOverhead: Scenario = {
  id: 1,
  name: 'Authentication overhead',
  async run(ctx) {
    const seeded = await ctx.database.withHandle((db) => seedUsersWithSessions(db, CONNECTIONS, 'auth'));
    const tokens = await Promise.all(seeded.map((s) => ctx.signer.sign(s)));
    const server = await ctx.startServer('auth-overhead');
    try {
      const check = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[0]}` },
        body: JSON.stringify({ query: '{ me { id } }' }),
      });
      const body = (await check.json()) as { data?: { me?: { id?: string } } };
      if (body.data?.me?.id !== seeded[0]!.userId) throw new Error(`me answered ${JSON.stringify(body)}`);

      const rounds = ctx.quick ? 1 : 3;
      const seconds = ctx.quick ? 2 : 6;
      const anonymous: number[] = [];
      const authenticated: number[] = [];
      const cpu = { anonymous: [] as CpuReading[], authenticated: [] as CpuReading[], requests: { anonymous: 0, authenticated: 0 } };
      const run = async (withToken: boolean, duration: number, measure = true) => {
        let next = 0;
        const meter = await startCpuMeter([server.pid], ctx.database);
        const result = await cannon({
          url: server.url,
          connections: CONNECTIONS,
          duration,
          setupClient: (client) => {
            const token = tokens[next++ % tokens.length]!;
            client.setRequests([
              withToken
                ? graphqlRequest({ query: '{ me { id } }' }, { authorization: `Bearer ${token}` })
                : graphqlRequest({ query: '{ __typename }' }),
            ]);
          },
        });
        const reading = await meter.stop();
        if (measure) {
          cpu[withToken ? 'authenticated' : 'anonymous'].push(reading);
          cpu.requests[withToken ? 'authenticated' : 'anonymous'] += result.requests.total;
        }
        return result.requests.average;
      };
      progress('  warming up');
      await run(false, 1, false);
      await run(true, 1, false);
      for (let r = 0; r < rounds; r += 1) {
        anonymous.push(await run(false, seconds));
        authenticated.push(await run(true, seconds));
        progress(`  round ${r + 1}/${rounds}: ${round(authenticated.at(-1)!, 0)} vs ${round(anonymous.at(-1)!, 0)} req/s`);
      }
      const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
      const figure = mean(authenticated);
      const baseline = mean(anonymous);
      const ratio = figure / baseline;
      const sum = (readings: CpuReading[]): CpuReading => ({
        serverMainMs: readings.reduce((a, r) => a + r.serverMainMs, 0),
        serverOtherMs: readings.reduce((a, r) => a + r.serverOtherMs, 0),
        databaseMs: readings.reduce((a, r) => a + r.databaseMs, 0),
      });
      const note = [
        describeCpu(sum(cpu.authenticated), cpu.requests.authenticated, '`{ me { id } }`'),
        describeCpu(sum(cpu.anonymous), cpu.requests.anonymous, '`{ __typename }`'),
      ].join('; ');
      progress(`  ${note}`);
      return [
        {
          scenario: '1. Authentication overhead',
          figure: '`{ me { id } }` with a bearer token, 50 connections',
          value: round(figure, 0),
          unit: 'req/s',
          baseline: { what: '`{ __typename }` without a token, same server', value: round(baseline, 0), unit: 'req/s' },
          ratio: round(ratio, 3),
          target: `ratio >= ${TARGET}`,
          pass: ratio >= TARGET,
          note,
        },
      ];
    } finally {
      await server.stop();
    }
  },
};
