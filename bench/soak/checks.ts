import { readFileSync } from 'node:fs';
import type postgres from 'postgres';
import type { Requests, SlowRequest } from './client.js';
import type { FaultRecord } from './faults.js';
import type { Instance } from './instances.js';
import type { Ledger, Violation } from './ledger.js';
import { bump } from './util.js';

/** A count that must be zero, with what made it non-zero. */
export interface Invariant {
  readonly name: string;
  readonly count: number;
  readonly examples: readonly unknown[];
}

export interface DatabaseFigures {
  /** Acknowledged ends whose session is still live in the database. */
  readonly lostEnds: string[];
  /** Sessions with more than one unspent refresh token. */
  readonly doubleLive: { sessionId: string; live: number }[];
  readonly totals: { users: number; sessions: number; endedSessions: number; refreshTokens: number };
}

/** The database after the soak: did every acknowledged end stick, and is every family linear? */
export async function checkDatabase(sql: postgres.Sql, ledger: Ledger): Promise<DatabaseFigures> {
  const acked = ledger.ackedEnds().map((session) => session.id);
  // A session deleted since (its row gone, a tombstone in deleted_sessions) has ended too.
  const lost = await sql<{ id: string }[]>`
    select id from unnest(${acked}::uuid[]) as a(id)
    where not exists (select 1 from sessions s where s.id = a.id and s.ended_at is not null)
      and not exists (select 1 from deleted_sessions d where d.session_id = a.id)`;
  const doubleLive = await sql<{ sessionId: string; live: number }[]>`
    select session_id as "sessionId", count(*)::int as live from refresh_tokens
    where spent_at is null group by session_id having count(*) > 1`;
  const [totals] = await sql<DatabaseFigures['totals'][]>`
    select (select count(*)::int from users) as users,
      (select count(*)::int from sessions) as sessions,
      (select count(*)::int from sessions where ended_at is not null) as "endedSessions",
      (select count(*)::int from refresh_tokens) as "refreshTokens"`;
  return { lostEnds: lost.map((row) => row.id), doubleLive, totals: totals! };
}

export interface InstanceLogs {
  /** Exits the soak did not cause: crashes. */
  readonly crashes: { instance: string; pid: number; code: number | null; signal: string | null }[];
  /** Unclean ends of the final SIGTERM (exit code other than 0). */
  readonly uncleanStops: { instance: string; code: number | null; signal: string | null }[];
  /** stderr lines naming an unhandled rejection or an uncaught exception. */
  readonly unhandled: { instance: string; line: string }[];
  stderrLines: number;
  /** The servers' own warn and error log lines, by level and message. */
  readonly logLines: Record<string, number>;
}

const UNHANDLED = /unhandled|uncaught/i;

export function readInstanceLogs(instances: readonly Instance[]): InstanceLogs {
  const logs: InstanceLogs = { crashes: [], uncleanStops: [], unhandled: [], stderrLines: 0, logLines: {} };
  for (const instance of instances) {
    instance.incarnations.forEach((incarnation, index) => {
      const exit = incarnation.exit;
      const last = index === instance.incarnations.length - 1;
      if (exit && !exit.expected)
        logs.crashes.push({ instance: instance.name, pid: incarnation.pid, code: exit.code, signal: exit.signal });
      if (exit && exit.expected && last && exit.code !== 0) {
        logs.uncleanStops.push({ instance: instance.name, code: exit.code, signal: exit.signal });
      }
      for (const line of lines(incarnation.stderr)) {
        logs.stderrLines += 1;
        if (UNHANDLED.test(line)) logs.unhandled.push({ instance: instance.name, line: line.slice(0, 300) });
      }
      for (const line of lines(incarnation.stdout)) {
        try {
          const entry = JSON.parse(line) as { level?: string; msg?: string };
          if (entry.level === 'warn' || entry.level === 'error') bump(logs.logLines, `${entry.level}: ${entry.msg}`);
        } catch {
          bump(logs.logLines, 'not JSON');
        }
      }
    });
  }
  return logs;
}

function lines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '');
  } catch {
    return [];
  }
}

const first = <T>(items: readonly T[]) => items.slice(0, 10);

/**
 * Each slow request with the last fault injected before it was answered (on its instance or on
 * PostgreSQL): tells a request held up by a fault from one held up by a machine short of CPU.
 */
export function withLastFault(
  slow: readonly SlowRequest[],
  faults: readonly FaultRecord[],
): (SlowRequest & { lastFault: string })[] {
  return slow.map((request) => {
    const answeredS = request.sentAtS + request.ms / 1000;
    const before = faults.filter(
      (f) => f.atS <= answeredS && (f.target === request.instance || f.target === 'postgresql'),
    );
    const last = before.at(-1);
    const lastFault = last ? `${last.kind} on ${last.target} at ${last.atS} s (${last.lastedS} s)` : 'none before it';
    return { ...request, lastFault };
  });
}

/** Every count that must be zero. */
export function invariants(input: {
  requests: Requests;
  ledger: Ledger;
  database: DatabaseFigures;
  logs: InstanceLogs;
  instancesDown: string[];
  harnessErrors: Record<string, number>;
  faults: readonly FaultRecord[];
}): Invariant[] {
  const { requests, ledger, database, logs } = input;
  const violations = (list: readonly Violation[]) => first(list);
  return [
    {
      name: 'requests without an answer within 5 s',
      count: requests.slow.length,
      examples: first(withLastFault(requests.slow, input.faults)),
    },
    { name: 'crashes other than the injected kills', count: logs.crashes.length, examples: first(logs.crashes) },
    {
      name: 'unhandled rejections or exceptions (stderr)',
      count: logs.unhandled.length,
      examples: first(logs.unhandled),
    },
    {
      name: 'unclean stops at the end (SIGTERM exit code not 0)',
      count: logs.uncleanStops.length,
      examples: logs.uncleanStops,
    },
    { name: 'instances not up at the end', count: input.instancesDown.length, examples: input.instancesDown },
    {
      name: 'acknowledged ends not ended in the database (lost)',
      count: database.lostEnds.length,
      examples: first(database.lostEnds),
    },
    {
      name: "ended sessions' access tokens accepted after the bound",
      count: ledger.acceptedLate.length,
      examples: violations(ledger.acceptedLate),
    },
    {
      name: 'sessions with two live refresh tokens (database)',
      count: database.doubleLive.length,
      examples: first(database.doubleLive),
    },
    {
      name: 'refresh families forked (seen by the load)',
      count: ledger.forks.length,
      examples: violations(ledger.forks),
    },
    {
      name: 'refreshes honoured after their session ended',
      count: ledger.refreshedAfterEnd.length,
      examples: violations(ledger.refreshedAfterEnd),
    },
    {
      name: 'soak harness errors (figures suspect)',
      count: Object.values(input.harnessErrors).reduce((a, b) => a + b, 0),
      examples: Object.keys(input.harnessErrors).slice(0, 10),
    },
  ];
}
