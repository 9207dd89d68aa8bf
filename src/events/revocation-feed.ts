import type { Clock } from '../clock.js';
import { SLOT_MS, type DeadlineTicket, type Deadlines, type Expiring } from '../deadlines.js';
import type { RevocationBus, SessionRevoked } from './revocation-bus.js';

export interface FeedBounds {
  /** The subscriber's own session: the feed ends right after announcing that this one ended. */
  readonly sessionId: string;
  /** When the subscriber's credential expires: the feed ends then, whatever the transport. */
  readonly until: Date;
}

/**
 * Revocations keyed by user: a subscriber receives only its own user's events, looked up by key
 * rather than filtered out of everyone's. One bus listener for the whole instance, and its expiries
 * on the instance's shared deadlines rather than a timer each.
 */
export class RevocationFeed {
  /** A user's one subscription, or a set when it has several (one per user is the common case, and a Set costs more). */
  readonly #byUser = new Map<string, FeedSubscription | Set<FeedSubscription>>();
  readonly #unsubscribe: () => void;
  /** One function for every subscription to call when it ends, rather than a closure each. */
  readonly #release = (subscription: FeedSubscription) => this.#forget(subscription);

  constructor(
    bus: RevocationBus,
    private readonly clock: Clock,
    private readonly expiries: Deadlines<Expiring>,
  ) {
    this.#unsubscribe = bus.subscribe((event) => {
      const subscribers = this.#byUser.get(event.userId);
      if (subscribers instanceof FeedSubscription) subscribers.deliver(event);
      else if (subscribers) for (const subscription of subscribers) subscription.deliver(event);
    });
  }

  /** How many subscriptions are open: for leak checks. */
  get subscriberCount(): number {
    let count = 0;
    for (const subscribers of this.#byUser.values()) count += subscribers instanceof FeedSubscription ? 1 : subscribers.size;
    return count;
  }

  /**
   * The user's revocations from now on, until the consumer returns (which releases it at once), the
   * subscriber's own session ends, or its credential expires: a stream (SSE as much as a socket)
   * must not outlive the session that opened it.
   */
  subscribe(userId: string, bounds: FeedBounds): AsyncIterableIterator<SessionRevoked> {
    const subscription = new FeedSubscription(userId, bounds.sessionId, this.#release);
    const subscribers = this.#byUser.get(userId);
    if (!subscribers) this.#byUser.set(userId, subscription);
    else if (subscribers instanceof FeedSubscription) this.#byUser.set(userId, new Set([subscribers, subscription]));
    else subscribers.add(subscription);
    // One slot after the token's own deadline: a socket's expiry for the same token (scheduled when it
    // connected) then always comes first and closes it 4403 before this could complete the operation,
    // which would tell graphql-ws's client not to subscribe again once it has reconnected.
    const remainingMs = bounds.until.getTime() - this.clock().getTime();
    subscription.expiry = this.expiries.schedule(subscription, remainingMs + SLOT_MS);
    return subscription;
  }

  close(): void {
    this.#unsubscribe();
  }

  #forget(subscription: FeedSubscription): void {
    this.expiries.cancel(subscription, subscription.expiry);
    const subscribers = this.#byUser.get(subscription.userId);
    if (subscribers === subscription) {
      this.#byUser.delete(subscription.userId);
    } else if (subscribers instanceof Set && subscribers.delete(subscription)) {
      const [only, more] = subscribers;
      if (!more) this.#byUser.set(subscription.userId, only!);
    }
  }
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * One subscriber's events, as an async iterator. Hand-written rather than a Repeater (or an async
 * generator) because one lives as long as its subscriber, thousands at once: this is one object
 * with a queue only while events wait, where a Repeater held a dozen closures and promises.
 */
class FeedSubscription implements AsyncIterableIterator<SessionRevoked>, Expiring {
  expiry: DeadlineTicket = 0;
  /** Events delivered but not yet taken by next(). */
  #queue: SessionRevoked[] | undefined;
  /** The consumer waiting in next() for the next event (graphql-js waits for one at a time). */
  #waiting: Resolve | undefined;
  /** Any further next() calls made while one was already waiting, in order. */
  #alsoWaiting: Resolve[] | undefined;
  /** No more events will be queued: the queue drains, then the iterator is done. */
  #ended = false;

  constructor(
    readonly userId: string,
    readonly sessionId: string,
    private readonly release: (subscription: FeedSubscription) => void,
  ) {}

  deliver(event: SessionRevoked): void {
    if (this.#ended) return;
    const waiting = this.#takeWaiting();
    if (waiting) waiting({ value: event, done: false });
    else (this.#queue ??= []).push(event);
    if (event.sessionId === this.sessionId) this.end();
  }

  /** Its token expired. */
  expire(): void {
    this.end();
  }

  /** No more events: those already queued are still handed out, then the iterator is done. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.release(this);
    for (let waiting = this.#takeWaiting(); waiting; waiting = this.#takeWaiting()) waiting(DONE);
  }

  next(): Promise<IteratorResult<SessionRevoked>> {
    const event = this.#queue?.shift();
    if (event) {
      if (this.#queue!.length === 0) this.#queue = undefined;
      return Promise.resolve({ value: event, done: false });
    }
    if (this.#ended) return Promise.resolve(DONE);
    return new Promise((resolve) => {
      if (!this.#waiting) this.#waiting = resolve;
      else (this.#alsoWaiting ??= []).push(resolve);
    });
  }

  /** The consumer is done (unsubscribed, socket closed): release everything now. */
  return(): Promise<IteratorResult<SessionRevoked>> {
    this.#queue = undefined;
    this.end();
    return Promise.resolve(DONE);
  }

  throw(error: unknown): Promise<IteratorResult<SessionRevoked>> {
    void this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #takeWaiting(): Resolve | undefined {
    const waiting = this.#waiting;
    this.#waiting = this.#alsoWaiting?.shift();
    if (this.#alsoWaiting?.length === 0) this.#alsoWaiting = undefined;
    return waiting;
  }
}

type Resolve = (result: IteratorResult<SessionRevoked>) => void;
