import postgres from 'postgres';
import { post, subscribeRevocations, type RevokedEvent } from '../lib/clients.js';
import { Skip, type Scenario } from '../lib/context.js';
import { seedSessions, seedUsersWithSessions } from '../lib/fixtures.js';
import { percentile, progress, round, sleep } from '../lib/progress.js';

const TARGET_P99_MS = 50;
const CHANNEL = 'tidepass_bench_ping';

/**
 * 4. Revocation propagation between two instances on one PostgreSQL: from revokeDevice's response
 * on A to (a) the sessionRevoked event at a graphql-ws subscriber on B, and (b) the first
 * SESSION_REVOKED answer on B (polled from A's response on). Baseline: a bare NOTIFY to LISTEN
 * round trip with postgres.js on the same database.
 */
export const propagation: Scenario = {
  id: 4,
  name: 'Revocation propagation',
  async run(ctx) {
    if (ctx.database.kind !== 'postgres') {
      throw new Skip('needs two instances on one PostgreSQL: set DATABASE_URL or TEST_DATABASE_URL');
    }
    const rounds = ctx.quick ? 30 : 250;
    const { owner, targets } = await ctx.database.withHandle(async (db) => {
      const [owner] = await seedUsersWithSessions(db, 1, 'propagation');
      return { owner: owner!, targets: await seedSessions(db, owner!.userId, rounds) };
    });
    const ownerToken = await ctx.signer.sign(owner);
    const targetTokens = await Promise.all(targets.map((sessionId) => ctx.signer.sign({ userId: owner.userId, sessionId })));

    const a = await ctx.startServer('propagation-a');
    const b = await ctx.startServer('propagation-b');
    const toSubscriber: number[] = [];
    const toRequest: number[] = [];
    try {
      const arrivals = new Map<string, number>();
      const waiters = new Map<string, (at: number) => void>();
      const subscriber = await subscribeRevocations(b.url, ownerToken, (event: RevokedEvent, at) => {
        arrivals.set(event.sessionId, at);
        waiters.get(event.sessionId)?.(at);
      });
      await sleep(200);
      progress(`  ${rounds} revocations on A, observed on B`);
      for (let i = 0; i < rounds; i += 1) {
        const sessionId = targets[i]!;
        const arrived = new Promise<number>((resolve) => {
          const already = arrivals.get(sessionId);
          if (already !== undefined) resolve(already);
          else waiters.set(sessionId, resolve);
        });
        const answer = await post(a.url, { query: 'mutation ($id: ID!) { revokeDevice(sessionId: $id) }', variables: { id: sessionId } }, ownerToken);
        const responded = performance.now();
        if (answer.data?.['revokeDevice'] !== true) throw new Error(`revokeDevice answered ${JSON.stringify(answer)}`);
        // (b): the revoked session's token on B, asked again until refused.
        for (;;) {
          const me = await post(b.url, { query: '{ me { id } }' }, targetTokens[i]);
          if (me.errors?.[0]?.extensions?.code === 'SESSION_REVOKED') break;
          if (performance.now() - responded > 5000) throw new Error('B still accepts a revoked session after 5 s');
        }
        toRequest.push(performance.now() - responded);
        const at = await Promise.race([arrived, sleep(5000).then(() => Number.NaN)]);
        if (Number.isNaN(at)) throw new Error('the subscriber on B got no event within 5 s');
        // The event may arrive before A's answer does: that is a delay of 0.
        toSubscriber.push(Math.max(0, at - responded));
        waiters.delete(sessionId);
      }
      await subscriber.dispose();
    } finally {
      await b.stop();
      await a.stop();
    }

    progress(`  baseline: ${rounds} bare NOTIFY -> LISTEN round trips`);
    const baseline: number[] = [];
    const url = ctx.database.serverEnv['DATABASE_URL']!;
    const listen = postgres(url, { max: 1, onnotice: () => {} });
    const notify = postgres(url, { max: 1, onnotice: () => {} });
    try {
      let resolveReceived: ((at: number) => void) | undefined;
      await listen.listen(CHANNEL, () => resolveReceived?.(performance.now()));
      await notify`select 1`;
      for (let i = 0; i < rounds; i += 1) {
        const received = new Promise<number>((resolve) => (resolveReceived = resolve));
        const sent = performance.now();
        await notify.notify(CHANNEL, String(i));
        baseline.push((await received) - sent);
      }
    } finally {
      await listen.end({ timeout: 2 });
      await notify.end({ timeout: 2 });
    }

    const base = { p50: percentile(baseline, 50), p99: percentile(baseline, 99) };
    const line = (figure: string, values: number[]) => {
      const p50 = percentile(values, 50);
      const p99 = percentile(values, 99);
      return {
        scenario: '4. Revocation propagation',
        figure: `${figure}, p50 / p99 over ${values.length}`,
        value: round(p50, 1),
        unit: `ms p50 / ${round(p99, 1)} ms p99`,
        baseline: { what: 'bare NOTIFY -> LISTEN, p50 / p99', value: round(base.p50, 2), unit: `ms / ${round(base.p99, 2)} ms` },
        ratio: round(p99 / base.p99, 1),
        target: `p99 < ${TARGET_P99_MS} ms`,
        pass: p99 < TARGET_P99_MS,
        note: 'ratio: p99 over the baseline p99 (a lower-is-better figure)',
      };
    };
    return [
      line('revokeDevice on A -> sessionRevoked event on B', toSubscriber),
      line('revokeDevice on A -> first SESSION_REVOKED from B', toRequest),
    ];
  },
};
