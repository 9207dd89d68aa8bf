import type { RawData, WebSocket } from 'ws';
import type { ClientInfo } from '../auth/sessions.js';
import type { DeadlineTicket, Expiring } from '../deadlines.js';

/**
 * One socket, as graphql-ws's server sees it (its WebSocket) and as its `ctx.extra`. Lives as long
 * as the socket, one per subscriber: it keeps what operations need (the client's address and user
 * agent) rather than the upgrade request itself, and no timer of its own.
 */
export class Connection implements Expiring {
  /** The session it was authenticated for, once connection_init succeeded and until it is released. */
  sessionId: string | undefined;
  expiry: DeadlineTicket = 0;
  /** The connection_init wait's ticket, until connection_init arrives or the socket closes. */
  initWait: DeadlineTicket | undefined;
  /**
   * Queries and mutations still executing, by operation id (created at the first). graphql-ws frees an
   * operation's slot when the client completes it, even while it still executes: without this count,
   * subscribe-then-complete would start any number of executions at once on one socket.
   */
  executing: Map<string, number> | undefined;
  executingCount = 0;
  #onMessage: ((data: string) => Promise<void>) | undefined;

  constructor(
    readonly socket: WebSocket,
    readonly client: ClientInfo,
    private readonly owner: ConnectionOwner,
  ) {}

  /** Operations counted against MAX_OPERATIONS_PER_SOCKET: reserved or running in graphql-ws, or still executing. */
  operationCount(reserved: Readonly<Record<string, unknown>>): number {
    let count = this.executingCount;
    for (const id of Object.keys(reserved)) if (!this.executing?.has(id)) count += 1;
    return count;
  }

  startedExecuting(id: string): void {
    this.executing ??= new Map();
    this.executing.set(id, (this.executing.get(id) ?? 0) + 1);
    this.executingCount += 1;
  }

  finishedExecuting(id: string): void {
    const left = (this.executing?.get(id) ?? 1) - 1;
    if (left > 0) this.executing!.set(id, left);
    else this.executing?.delete(id);
    this.executingCount -= 1;
  }

  /** Its token expired. */
  expire(): void {
    this.owner.expired(this);
  }

  get protocol(): string {
    return this.socket.protocol;
  }

  send(data: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.readyState !== this.socket.OPEN) return resolve();
      this.socket.send(data, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(code?: number, reason?: string): void {
    this.socket.close(code, reason);
  }

  onMessage(handle: (data: string) => Promise<void>): void {
    this.#onMessage = handle;
  }

  /**
   * A subscription's message resolves only when the subscription ends: no async function waits
   * for it (its suspended frame would live as long), a promise reaction does.
   */
  receive(data: RawData): void {
    this.#onMessage?.(rawDataToString(data)).catch((error: unknown) => this.owner.failed(this, error));
  }
}

/** What every connection calls back into: one object for all of them rather than closures of each. */
export interface ConnectionOwner {
  expired(connection: Connection): void;
  failed(connection: Connection, error: unknown): void;
}

/** `ws` hands over a Buffer here (no binaryType set); the other shapes are decoded too rather than stringified as objects. */
function rawDataToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return (data instanceof ArrayBuffer ? Buffer.from(data) : data).toString('utf8');
}
