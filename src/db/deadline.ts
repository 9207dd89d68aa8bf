import type postgres from 'postgres';

/**
 * The longest any database call (a statement, or a whole transaction) may take before its caller
 * gets DATABASE_DEADLINE (SERVICE_UNAVAILABLE): a request answers within 5 s even when postgres.js
 * itself loses a query. Above statement_timeout (3 s), so a slow statement gets the server's answer;
 * above the read watchdog (4 s), which also frees the stuck connection, so that one acts first.
 */
export const DATABASE_CALL_DEADLINE_MS = 4_500;

export class DatabaseDeadlineExceeded extends Error {
  override readonly name = 'DatabaseDeadlineExceeded';
  readonly code = 'DATABASE_DEADLINE';
}

type Callback = (sql: postgres.Sql) => unknown;

/**
 * The postgres.js client with a deadline on every call made through it: each statement (tagged or
 * `unsafe`) and each `begin` settles within `deadlineMs`, whatever the driver does. The read watchdog
 * and the server's timeouts bound a query that some connection holds; this also bounds one that no
 * connection holds any more (a driver defect), or that waits behind a degraded link.
 *
 * A transaction is bounded as a whole: once its deadline passed, its callback's next statement
 * throws, so the transaction rolls back instead of going on behind the caller's back.
 */
export function withDeadline<T extends postgres.Sql>(client: T, deadlineMs: number): T {
  return new Proxy(client, {
    apply: (target, thisArg, args) => bounded(Reflect.apply(target, thisArg, args) as unknown, deadlineMs),
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property === 'unsafe') {
        return (...args: unknown[]) => bounded((value as (...a: unknown[]) => unknown).apply(target, args), deadlineMs);
      }
      if (property === 'begin') {
        return (...args: unknown[]) => {
          let expired = false;
          const callback = args.pop() as Callback;
          const run = (value as (...a: unknown[]) => Promise<unknown>).apply(target, [
            ...args,
            (tx: postgres.Sql) => callback(expiring(tx, () => expired)),
          ]);
          return raceDeadline(run, deadlineMs, () => (expired = true));
        };
      }
      return value;
    },
  });
}

/** A transaction's handle whose statements throw once `isExpired()`: the callback fails, postgres.js rolls back. */
function expiring<T extends postgres.Sql>(tx: T, isExpired: () => boolean): T {
  const refuse = () => {
    if (isExpired()) throw new DatabaseDeadlineExceeded('the transaction outlived its deadline');
  };
  return new Proxy(tx, {
    apply(target, thisArg, args) {
      refuse();
      return Reflect.apply(target, thisArg, args) as unknown;
    },
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property === 'unsafe') {
        return (...args: unknown[]) => {
          refuse();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      if (property === 'savepoint') {
        return (...args: unknown[]) => {
          refuse();
          const callback = args.pop() as Callback;
          return (value as (...a: unknown[]) => unknown).apply(target, [...args, (sp: postgres.Sql) => callback(expiring(sp, isExpired))]);
        };
      }
      return value;
    },
  });
}

/**
 * The query (a postgres.js Query: a Promise that runs when first awaited, with chainable modifiers
 * such as `.values()`), raced against the deadline when awaited. Anything else (an identifier or a
 * fragment made by calling the client) is returned as it is.
 */
function bounded<Q>(query: Q, deadlineMs: number): Q {
  if (!(query instanceof Promise)) return query;
  let settled: Promise<unknown> | undefined;
  // Not cancelled at the deadline: postgres.js's cancel leaks the connection of a query waiting for
  // it to connect, or opens one and leaves its failure unhandled. A late statement may still run,
  // as after any SERVICE_UNAVAILABLE whose acknowledgement was lost.
  const settle = () => (settled ??= raceDeadline(query, deadlineMs, () => {}));
  const proxy: Q = new Proxy(query as Q & object, {
    get(target, property) {
      if (property === 'then') return (...args: Parameters<Promise<unknown>['then']>) => settle().then(...args);
      if (property === 'catch') return (...args: Parameters<Promise<unknown>['catch']>) => settle().catch(...args);
      if (property === 'finally') return (...args: Parameters<Promise<unknown>['finally']>) => settle().finally(...args);
      // Promise internals need the real object as `this`; modifiers that return it return the proxy.
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        return result === target ? proxy : result;
      };
    },
  });
  return proxy;
}

/** `work`, or DatabaseDeadlineExceeded after `deadlineMs` (then `onExpire` runs). */
function raceDeadline<T>(work: Promise<T>, deadlineMs: number, onExpire: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onExpire();
      reject(new DatabaseDeadlineExceeded(`no answer from the database within ${deadlineMs} ms`));
    }, deadlineMs);
    // A pending call must not keep a process that is otherwise done alive.
    timer.unref();
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
