import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from './helpers/database.js';
import { createTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

/**
 * postgres.js right after a cut connection comes back: a query handed to a connection between its
 * socket's 'error' and 'close' was never settled, and it stayed on that connection after the
 * reconnect, where it took the next answer (patches/postgres+3.4.9.patch, `closed()`). Transactions
 * then waited without end. The driver alone, through the test proxy: no app, no tables.
 *
 * Rounds: RECONNECT_HANG_ROUNDS, 50 by default (CI); the issue asks for 200 (about 70 s on a loaded two-core machine).
 */
const ROUNDS = Number(process.env.RECONNECT_HANG_ROUNDS ?? 50);
/** Every call settles well within this once the fix is in (a reconnect takes milliseconds here). */
const DEADLINE_MS = 3000;
/** At most this many hangs are collected: a poisoned pool makes every later round wait its deadline. */
const MAX_HANGS = 3;

type Outcome = 'resolved' | 'rejected' | 'hung';

/** How `work` settled, or 'hung' when it did not within the deadline. */
async function settle(work: Promise<unknown>): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Outcome>((resolve) => (timer = setTimeout(() => resolve('hung'), DEADLINE_MS)));
  try {
    return await Promise.race([work.then((): Outcome => 'resolved', (): Outcome => 'rejected'), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(backend !== 'postgres')('postgres.js after a cut connection comes back (PostgreSQL only)', () => {
  let proxy: TcpProxy;
  let sql: postgres.Sql;

  beforeAll(async () => {
    const direct = new URL(process.env.TEST_DATABASE_URL!);
    proxy = await createTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    // The app's pool size and connect timeout; a short fixed backoff so that a round takes ~0.1 s
    // (the app's grows to 0.5 s: the defect does not depend on it).
    sql = postgres(proxy.urlFor(direct.toString()), { max: 10, connect_timeout: 3, backoff: () => 0.01, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end({ timeout: 1 });
    await proxy?.close();
  });

  it(`settles every query and transaction in ${ROUNDS} rounds of cut, restore, transaction (PostgreSQL only)`, { timeout: 60_000 + ROUNDS * 1000 }, async () => {
    const hangs: string[] = [];
    const unexpected: string[] = [];
    const expectOutcome = (round: number, name: string, outcome: Outcome, wanted: Outcome) => {
      if (outcome === 'hung') hangs.push(`round ${round}: ${name}`);
      else if (outcome !== wanted) unexpected.push(`round ${round}: ${name} ${outcome}`);
    };

    for (let round = 0; round < ROUNDS && hangs.length < MAX_HANGS; round += 1) {
      // Several pooled connections open, as under traffic.
      await Promise.all([sql`select 1`, sql`select 2`, sql`select 3`]);
      const inFlight = settle(
        sql.begin(async (tx) => {
          await tx`select 1`;
          await tx`select pg_sleep(0.02)`;
          await tx`select 3`;
        }),
      );
      await sleep(5);
      proxy.cut();
      // Issued after the reset reached the pool: these land on connections whose socket has failed.
      expectOutcome(round, 'query during the cut', await settle(sql`select 4`), 'rejected');
      expectOutcome(round, 'transaction during the cut', await settle(sql.begin((tx) => tx`select 4`)), 'rejected');
      expectOutcome(round, 'transaction cut in flight', await inFlight, 'rejected');
      proxy.restore();
      expectOutcome(round, 'query after the restore', await settle(sql`select 5`), 'resolved');
      expectOutcome(round, 'transaction after the restore', await settle(sql.begin((tx) => tx`select 6`)), 'resolved');
    }

    expect(hangs).toEqual([]);
    expect(unexpected).toEqual([]);
  });
});
