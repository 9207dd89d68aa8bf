import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AuthOutcomes } from '../auth/outcomes.js';
import type { Clock } from '../clock.js';
import type { SessionRevoked } from '../events/revocation-bus.js';

/** What the gauges read at each scrape (collect callbacks): the parts keep their own state. */
export interface MetricSources {
  revocationSetSize(): number;
  /** Whether this instance hears every session end (LISTEN up and reloaded; always on PGlite). */
  synchronised(): boolean;
  liveSubscribers(): { readonly ws: number; readonly sse: number };
  /** When the oldest session end still waiting for the database was refused here. */
  oldestPendingEnd(): Date | undefined;
}

/** Seconds: a revocation's NOTIFY usually arrives within milliseconds; anything near a second is an incident. */
const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * This instance's figures, in a registry of its own (several apps share a process in tests, and the
 * global default registry would mix them). The domain never sees prom-client: it reports through
 * `outcomes` (AuthOutcomes), the bus through `revoked`/`notified`/`relistened`, and the gauges read
 * their sources when scraped.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #logins = this.#counter('tidepass_logins_total', 'Password sign-in attempts by outcome (success or the error code, lower case).', ['outcome']);
  readonly #signUps = this.#counter('tidepass_sign_ups_total', 'Sign-up attempts by outcome (success or the error code, lower case).', ['outcome']);
  readonly #refreshes = this.#counter(
    'tidepass_refreshes_total',
    'Refresh attempts by outcome: success, grace (a lost response answered again), refresh_token_reused, refresh_token_rotated, invalid_refresh_token, …',
    ['outcome'],
  );
  readonly #revocations = this.#counter('tidepass_revocations_total', 'Sessions ended by this instance, by reason.', ['reason']);
  readonly #relistens = this.#counter('tidepass_listen_reconnects_total', 'Times the LISTEN connection was re-established after a gap.', []);
  readonly #lag = new Histogram({
    name: 'tidepass_revocation_propagation_seconds',
    help: 'From a session end (its revokedAt) to its NOTIFY arriving at this instance.',
    buckets: LAG_BUCKETS,
    registers: [this.registry],
  });
  readonly #backlogs = new Map<string, () => Promise<number>>();

  constructor(
    private readonly clock: Clock,
    options: { processMetrics: boolean },
  ) {
    // Process metrics only when served: each collection installs observers (GC, event loop) for good.
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'tidepass_' });
    const backlogs = this.#backlogs;
    new Gauge({
      name: 'tidepass_outbox_backlog',
      help: 'Messages waiting in an outbox to be sent, by outbox (mail, webhooks).',
      labelNames: ['outbox'],
      registers: [this.registry],
      async collect() {
        this.reset();
        // A database that does not answer leaves the figure out rather than failing the scrape.
        const read = [...backlogs].map(async ([outbox, count]) => this.set({ outbox }, await count()));
        await Promise.allSettled(read);
      },
    });
  }

  /** The reports of the credential and session use cases. */
  readonly outcomes: AuthOutcomes = {
    login: (outcome) => this.#logins.inc({ outcome }),
    signUp: (outcome) => this.#signUps.inc({ outcome }),
    refresh: (outcome) => this.#refreshes.inc({ outcome }),
  };

  /** Sessions this instance ended, once each, after commit. */
  revoked(events: readonly SessionRevoked[]): void {
    for (const event of events) this.#revocations.inc({ reason: event.reason });
  }

  /** A notification received from the database (PostgreSQL): how long its ends took to arrive. */
  notified(events: readonly SessionRevoked[]): void {
    const now = this.clock().getTime();
    for (const event of events) this.#lag.observe(Math.max(0, now - event.revokedAt.getTime()) / 1000);
  }

  relistened(): void {
    this.#relistens.inc();
  }

  /** An outbox's backlog, read at each scrape (the webhooks outbox registers its own). */
  registerBacklog(outbox: string, count: () => Promise<number>): void {
    this.#backlogs.set(outbox, count);
  }

  /** The gauges of state the parts keep; called once they all exist. */
  watch(sources: MetricSources): void {
    const { registry, clock } = this;
    const gauge = (name: string, help: string, read: (g: Gauge) => void, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers: [registry], collect() { read(this); } });
    gauge('tidepass_revocation_set_size', 'Ended sessions held in memory (their access tokens are refused without the database).', (g) =>
      g.set(sources.revocationSetSize()),
    );
    gauge('tidepass_listen_synchronised', '1 while this instance hears every session end (LISTEN up and reloaded), else 0.', (g) =>
      g.set(sources.synchronised() ? 1 : 0),
    );
    gauge(
      'tidepass_live_subscribers',
      'Open live connections by transport: ws (graphql-ws sockets), sse (GraphQL subscriptions over SSE and GET /revocations clients).',
      (g) => {
        const live = sources.liveSubscribers();
        g.set({ transport: 'ws' }, live.ws);
        g.set({ transport: 'sse' }, live.sse);
      },
      ['transport'],
    );
    gauge('tidepass_pending_end_oldest_age_seconds', 'Age of the oldest session end waiting for the database (0 when none).', (g) => {
      const since = sources.oldestPendingEnd();
      g.set(since ? Math.max(0, clock().getTime() - since.getTime()) / 1000 : 0);
    });
  }

  #counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}
