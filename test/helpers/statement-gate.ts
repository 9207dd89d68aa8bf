import type { DatabaseHandle } from '../../src/db/client.js';

/** The app's first statement matching a pattern, held before it is sent until the test lets it go. */
export interface StatementGate {
  /** Resolves when the statement has reached the gate (and waits there). */
  readonly reached: Promise<void>;
  /** Sends the held statement, and takes the gate away. */
  release(): void;
}

type Send = (text: string, ...rest: unknown[]) => unknown;

/**
 * Holds the first statement whose SQL text matches, sent outside a transaction (transactions run on
 * a handle of their own), on either backend: what happens meanwhile runs against the real database,
 * so a race between two requests can be played in one chosen order instead of by timing luck.
 */
export function gateStatement(handle: DatabaseHandle, matches: RegExp): StatementGate {
  // PGlite's query and postgres.js's unsafe: what drizzle and rawQuery send through outside a transaction.
  const client = handle.client as unknown as Record<string, Send>;
  const method = handle.kind === 'pglite' ? 'query' : 'unsafe';
  const original = client[method]!;
  const restore = () => {
    if (handle.kind === 'pglite') delete client[method];
    else client[method] = original;
  };
  let reached!: () => void;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const gate: StatementGate = {
    reached: new Promise<void>((resolve) => (reached = resolve)),
    release: () => {
      restore();
      release();
    },
  };
  client[method] = function gated(this: unknown, text: string, ...rest: unknown[]) {
    if (!matches.test(text)) return original.call(client, text, ...rest);
    restore();
    reached();
    return released.then(() => original.call(client, text, ...rest));
  };
  return gate;
}
