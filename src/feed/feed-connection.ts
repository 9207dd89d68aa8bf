import type { ServerResponse } from 'node:http';

/** How long a snapshot may wait for the client to read before the connection is cut. */
const SNAPSHOT_DRAIN_TIMEOUT_MS = 30_000;

/**
 * One service's connection to GET /revocations. Live events are written as they come; a client that
 * stops reading is cut once its unsent output passes `maxBufferedBytes`, never buffered without end:
 * it reconnects with its Last-Event-ID and loses nothing.
 */
export class FeedConnection {
  #live = false;
  #closed = false;
  /** Live events that arrived while the snapshot was read and written: sent right after it. */
  #held: string[] = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly limits: { readonly maxBufferedBytes: number; readonly maxHeldEvents: number },
    private readonly onCut: (buffered: number) => void,
  ) {
    res.once('close', () => {
      this.#closed = true;
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get live(): boolean {
    return this.#live && !this.#closed;
  }

  /** A live event (or a heartbeat): written now, or held until the snapshot is out. */
  push(text: string): void {
    if (this.#closed) return;
    if (!this.#live) {
      this.#held.push(text);
      if (this.#held.length > this.limits.maxHeldEvents) this.cut();
      return;
    }
    this.res.write(text);
    if (this.res.writableLength > this.limits.maxBufferedBytes) this.cut();
  }

  /** The snapshot, with backpressure: it can be large, and a healthy client reads it at its pace. */
  async writeSnapshot(text: string): Promise<void> {
    if (this.#closed || this.res.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.res.off('drain', done).off('close', done);
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        this.cut();
      }, SNAPSHOT_DRAIN_TIMEOUT_MS);
      this.res.once('drain', done).once('close', done);
    });
  }

  /** The snapshot is out: what was held goes first, then live events as they come. */
  goLive(): void {
    this.#live = true;
    const held = this.#held;
    this.#held = [];
    for (const text of held) this.push(text);
  }

  cut(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onCut(this.res.writableLength);
    this.res.destroy();
  }

  /** A clean end (shutdown): the client reconnects, to another instance if there is one. */
  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.res.end();
  }
}
