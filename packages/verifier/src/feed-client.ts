import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { eventIdTime, parseHello, parseRevoked, type Hello, type Revoked } from './wire.js';

export interface FeedClientOptions {
  /** tidepass's `/revocations`. */
  readonly url: string;
  readonly key: string;
  readonly fetch: typeof fetch;
  /** Monotonic milliseconds. */
  readonly monotonic: () => number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  /** Refuses a hello that is not of the tidepass this service trusts: returns why, or null. */
  readonly checkHello: (hello: Hello) => string | null;
  readonly onHello: (hello: Hello) => void;
  readonly onRevoked: (revoked: Revoked) => void;
  readonly onError: (error: Error) => void;
}

/** The feed refused us (a wrong key, the feed not configured) or is not the expected tidepass. */
export class FeedRefusedError extends Error {
  override readonly name = 'FeedRefusedError';
}

/** Timers fire late on a busy machine: a heartbeat this much overdue is not yet a missed one. */
const HEARTBEAT_GRACE_MS = 2_000;
/** One event is about 150 bytes; anything near this is not tidepass's feed. */
const MAX_EVENT_BYTES = 64 * 1024;

/**
 * One SSE connection to tidepass's revocation feed at a time: hello, the snapshot (or the ends since
 * the last event id), `ready`, then live ends. Reconnects with backoff, resuming from the last id.
 */
export class FeedClient {
  #closed = false;
  #controller: AbortController | undefined;
  #wakeUp: (() => void) | undefined;
  #attempt = 0;
  #lastEventId: string | undefined;
  #lastEventTime = -Infinity;
  #hello: Hello | undefined;
  /** Caught up on the current connection: its snapshot (or replay) has been received. */
  #synced = false;
  #everSynced = false;
  #lastContact = 0;
  #downSince = 0;
  readonly #watchdog: NodeJS.Timeout;
  readonly firstSync: Promise<void>;
  #settleFirstSync!: (error?: Error) => void;

  constructor(private readonly options: FeedClientOptions) {
    this.firstSync = new Promise<void>((resolve, reject) => {
      this.#settleFirstSync = (error) => (error ? reject(error) : resolve());
    });
    this.firstSync.catch(() => {});
    // A connection that died without closing (a dropped route) is silent: replace it when heartbeats stop.
    this.#watchdog = setInterval(() => {
      if (this.#hello && this.#silenceMs() > 2 * this.#hello.heartbeatInterval + HEARTBEAT_GRACE_MS) this.#controller?.abort();
    }, 1_000);
    this.#watchdog.unref();
    void this.#run();
  }

  /** Connected and caught up: the snapshot or replay of the current connection has been received. */
  get synced(): boolean {
    return this.#synced;
  }

  get lastEventId(): string | undefined {
    return this.#lastEventId;
  }

  /**
   * How long (ms) this service may have been missing ends: 0 while caught up and heartbeats arrive,
   * Infinity before the first snapshot.
   */
  downFor(): number {
    if (!this.#everSynced) return Infinity;
    const now = this.options.monotonic();
    if (this.#synced) return Math.max(0, now - this.#lastContact - this.#heartbeatMs() - HEARTBEAT_GRACE_MS);
    return now - this.#downSince;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#watchdog);
    this.#controller?.abort();
    this.#wakeUp?.();
    this.#settleFirstSync(new Error('the verifier was closed'));
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      try {
        await this.#connectOnce();
        if (!this.#closed) this.options.onError(new Error('the revocation feed closed'));
      } catch (error) {
        if (this.#closed) break;
        const reason = error instanceof Error ? error : new Error(String(error));
        if (reason instanceof FeedRefusedError && !this.#everSynced) this.#settleFirstSync(reason);
        this.options.onError(reason);
      }
      this.#lost();
      await this.#sleep(this.#nextDelay());
    }
  }

  async #connectOnce(): Promise<void> {
    const controller = new AbortController();
    this.#controller = controller;
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.key}`, accept: 'text/event-stream' };
    if (this.#lastEventId) headers['last-event-id'] = this.#lastEventId;
    const response = await this.options.fetch(this.options.url, { headers, signal: controller.signal });
    if (response.status === 401 || response.status === 404) {
      await response.body?.cancel();
      throw new FeedRefusedError(`the revocation feed answered HTTP ${response.status}${response.status === 401 ? ' (wrong feed key)' : ' (feed not configured)'}`);
    }
    if (!response.ok || !response.body) throw new Error(`the revocation feed answered HTTP ${response.status}`);
    this.#lastContact = this.options.monotonic();
    let protocolError: Error | undefined;
    const fail = (error: Error) => {
      protocolError ??= error;
      controller.abort();
    };
    const parser = createParser({
      onEvent: (event) => this.#receive(event, fail),
      onError: (error) => fail(new Error(`revocation feed: ${error.message}`)),
      maxBufferSize: MAX_EVENT_BYTES,
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.#lastContact = this.options.monotonic();
        parser.feed(value);
      }
    } catch (error) {
      if (protocolError) throw protocolError;
      throw error;
    } finally {
      controller.abort();
    }
    if (protocolError) throw protocolError;
  }

  #receive(event: EventSourceMessage, fail: (error: Error) => void): void {
    if (event.event === 'hello') {
      const hello = parseHello(event.data);
      if (!hello) return fail(new Error('revocation feed: malformed hello'));
      const refusal = this.options.checkHello(hello);
      if (refusal) {
        const error = new FeedRefusedError(refusal);
        if (!this.#everSynced) this.#settleFirstSync(error);
        return fail(error);
      }
      this.#hello = hello;
      this.options.onHello(hello);
    } else if (event.event === 'revoked') {
      const revoked = parseRevoked(event.data);
      if (!this.#hello || !revoked) return fail(new Error('revocation feed: malformed or unannounced revoked event'));
      this.options.onRevoked(revoked);
      this.#advance(event.id);
    } else if (event.event === 'ready') {
      if (!this.#hello) return fail(new Error('revocation feed: ready before hello'));
      this.#synced = true;
      this.#everSynced = true;
      this.#attempt = 0;
      this.#settleFirstSync();
    }
    // Any other event is of a later version of the feed: ignored.
  }

  /** Keeps the id of the latest end seen: resuming from it replays less, and from any id nothing is missed. */
  #advance(id: string | undefined): void {
    const time = id === undefined ? null : eventIdTime(id);
    if (time === null || time < this.#lastEventTime) return;
    this.#lastEventTime = time;
    this.#lastEventId = id;
  }

  #lost(): void {
    if (this.#synced) {
      // Down since the last sign of life, or since the heartbeat that did not come.
      this.#downSince = Math.min(this.options.monotonic(), this.#lastContact + this.#heartbeatMs() + HEARTBEAT_GRACE_MS);
    }
    this.#synced = false;
    this.#controller = undefined;
  }

  #silenceMs(): number {
    return this.#controller ? this.options.monotonic() - this.#lastContact : 0;
  }

  #heartbeatMs(): number {
    return this.#hello?.heartbeatInterval ?? 15_000;
  }

  #nextDelay(): number {
    const { initialMs, maxMs } = this.options.backoff;
    const ceiling = Math.min(maxMs, initialMs * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    // Jitter, so that every service cut off by one tidepass restart does not come back in the same instant.
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wakeUp = undefined;
        resolve();
      }, ms);
      this.#wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
