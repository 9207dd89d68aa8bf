import { AccessTokens } from './auth/access-tokens.js';
import { loadSigningKeys } from './auth/keys.js';
import { PendingEnds, type RetryTimer } from './auth/pending-ends.js';
import { sweepRetention as sweepRetentionOnce, type RetentionSweep } from './auth/retention.js';
import { RevocationSet } from './auth/revocations.js';
import { AuthService } from './auth/service.js';
import { SessionService } from './auth/sessions.js';
import { Throttle } from './auth/throttle.js';
import { systemClock, type Clock } from './clock.js';
import { Deadlines, type Expiring } from './deadlines.js';
import type { Config } from './config.js';
import { connectPostgres, openPglite, type DatabaseHandle } from './db/client.js';
import { createInProcessBus } from './events/in-process-bus.js';
import { createPostgresBus } from './events/postgres-bus.js';
import { REVOCATION_CHANNEL } from './events/revocation-wire.js';
import type { RevocationBus, SessionRevoked } from './events/revocation-bus.js';
import { RevocationFeed } from './events/revocation-feed.js';
import { createRevocationStream, type RevocationStream } from './feed/revocation-stream.js';
import { createYogaServer, type TidepassYoga } from './graphql/yoga.js';
import { createJsonLogger, type Logger } from './logger.js';
import { createHttpServer } from './transport/http.js';
import { attachWebSocketTransport } from './transport/ws.js';

export interface AppOptions {
  /** A database to use instead of the one the config names; the app does not close it. */
  readonly database?: DatabaseHandle;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** How often the PostgreSQL LISTEN connection is probed (ms); tests shorten it. */
  readonly listenHeartbeatMs?: number;
  /** Where the devices page's build is (default dist/web/); tests point it at an empty folder. */
  readonly pageDirectory?: URL;
  /** Times the retries of session ends kept pending through an outage; tests fire them by hand. */
  readonly pendingEndTimer?: RetryTimer;
  /** How many such ends are kept at most (default 10,000); tests lower it. */
  readonly pendingEndCapacity?: number;
  /** GET /revocations: heartbeat interval (ms, default 15,000) and unsent bytes before a client is cut; tests lower them. */
  readonly revocationStream?: { readonly heartbeatMs?: number; readonly maxBufferedBytes?: number };
}

export interface App {
  readonly config: Config;
  /** Names this instance's LISTEN connection (application_name) and its notifications. */
  readonly instanceId: string;
  readonly yoga: TidepassYoga;
  readonly database: DatabaseHandle;
  readonly revocations: RevocationSet;
  readonly bus: RevocationBus;
  readonly auth: AuthService;
  readonly revocationFeed: RevocationFeed;
  /** GET /revocations, the stream of session ends for other services. */
  readonly revocationStream: RevocationStream;
  /** Open authenticated WebSocket connections. */
  readonly socketCount: number;
  /** Queries and mutations executing over WebSocket connections (stopped by their clients included). */
  readonly webSocketExecutingCount: number;
  /** Logouts the database could not write yet, refused here and retried in the background. */
  readonly pendingEndCount: number;
  /** Slots of the shared token-expiry deadlines (sockets' and subscriptions'): for leak checks. */
  readonly deadlineSlotCount: number;
  /** Ends sessions past their idle or absolute end (reason EXPIRED); runs every SESSION_SWEEP_INTERVAL too. */
  sweepExpiredSessions(): Promise<SessionRevoked[]>;
  /**
   * Deletes sessions ended more than SESSION_RETENTION ago, spent refresh tokens as old, and audit
   * events older than AUTH_EVENT_RETENTION; runs every RETENTION_SWEEP_INTERVAL_MS too.
   */
  sweepRetention(): Promise<RetentionSweep>;
  /** Listens on config.port (0: any free port); returns the base URL. */
  start(): Promise<{ url: string }>;
  stop(): Promise<void>;
}

const SHUTDOWN_GRACE_MS = 8_000;
const REVOCATION_PRUNE_INTERVAL_MS = 60_000;
const LISTEN_HEARTBEAT_MS = 5_000;
const THROTTLE_SWEEP_INTERVAL_MS = 300_000;
const RETENTION_SWEEP_INTERVAL_MS = 10 * 60_000;

/** The composition root: the only place that creates instances. */
export async function buildApp(config: Config, options: AppOptions = {}): Promise<App> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createJsonLogger();
  const ownsDatabase = !options.database;
  const database =
    options.database ?? (config.databaseUrl ? connectPostgres(config.databaseUrl) : await openPglite(config.dataDir));
  await database.migrate();

  const keys = await loadSigningKeys(database.db, {
    privateJwk: config.jwtPrivateKey,
    verificationJwks: config.jwtVerificationKeys,
    clock,
  });
  const revocations = new RevocationSet(config.accessTokenTtl, clock);
  const instanceId = crypto.randomUUID();
  const bus =
    database.kind === 'postgres'
      ? createPostgresBus({
          url: database.url,
          instanceId,
          logger,
          heartbeatMs: options.listenHeartbeatMs ?? LISTEN_HEARTBEAT_MS,
          onDesynchronised: () => revocations.markDesynchronised(),
          onResynchronise: () => revocations.loadFrom(database.db),
          onOwnEvents: (events) => events.forEach((event) => revocations.add(event.sessionId, event.revokedAt)),
        })
      : createInProcessBus({
          onListenerError: (error) => logger.error('revocation listener failed', { error }),
          listenToDatabase: (onPayload) => database.client.listen(REVOCATION_CHANNEL, onPayload),
        });
  bus.subscribe((event) => revocations.add(event.sessionId, event.revokedAt));
  // The PostgreSQL bus loads the set itself each time its LISTEN connection is (re)established.
  if (database.kind === 'pglite') await revocations.loadFrom(database.db);
  // Every socket's and every subscription's token expiry, on one timer; the socket's comes first.
  const expiries = new Deadlines<Expiring>((item) => item.expire());
  const revocationFeed = new RevocationFeed(bus, clock, expiries);

  const sessions = new SessionService({
    db: database.db,
    bus,
    clock,
    policy: {
      refreshTokenTtl: config.refreshTokenTtl,
      sessionIdleTimeout: config.sessionIdleTimeout,
      refreshReuseGrace: config.refreshReuseGrace,
      maxSessionsPerUser: config.maxSessionsPerUser,
    },
  });
  const accessTokens = new AccessTokens({
    keys,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    ttl: config.accessTokenTtl,
    clock,
  });
  const throttle = new Throttle({ db: database.db, limits: config.throttle });
  const pendingEnds = new PendingEnds({
    end: (selection, reason, client) => sessions.endSessions(selection, reason, client),
    bus,
    clock,
    logger,
    timer: options.pendingEndTimer,
    capacity: options.pendingEndCapacity,
  });
  const auth = new AuthService({ db: database.db, clock, sessions, accessTokens, revocations, throttle, pendingEnds });
  const yoga = createYogaServer({
    auth,
    revocationFeed,
    jwks: keys.jwks,
    logger,
    ping: database.ping,
    trustProxy: config.trustProxy,
    development: config.env === 'development',
    graphiql: config.graphiql,
    maxRequestBodyBytes: config.maxRequestBodyBytes,
    clock,
    corsOrigins: config.corsOrigins,
    pageDirectory: options.pageDirectory ?? new URL('../dist/web/', import.meta.url),
  });
  const revocationStream = createRevocationStream({
    keys: config.revocationFeedKeys,
    maxClients: config.revocationFeedMaxClients,
    bus,
    db: database.db,
    clock,
    logger,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    accessTokenTtl: config.accessTokenTtl,
    windowSeconds: revocations.windowSeconds,
    isSynchronised: () => revocations.synchronised,
    ...options.revocationStream,
  });
  const http = createHttpServer(yoga, revocationStream.handle);
  const ws = attachWebSocketTransport({
    server: http.server,
    yoga,
    auth,
    bus,
    clock,
    logger,
    corsOrigins: config.corsOrigins,
    trustProxy: config.trustProxy,
    expiries,
  });
  await bus.start();
  const pruner = setInterval(() => revocations.prune(), REVOCATION_PRUNE_INTERVAL_MS);
  pruner.unref();
  const sweepExpiredSessions = () => sessions.endExpiredSessions();
  const sweeper = setInterval(() => {
    sweepExpiredSessions().catch((error: unknown) => logger.warn('expired-session sweep failed', { error }));
  }, config.sessionSweepInterval * 1000);
  sweeper.unref();
  const throttleSweeper = setInterval(() => {
    throttle.sweepExpired(clock()).catch((error: unknown) => logger.warn('rate-limit sweep failed', { error }));
  }, THROTTLE_SWEEP_INTERVAL_MS);
  throttleSweeper.unref();
  const sweepRetention = () =>
    sweepRetentionOnce({
      db: database.db,
      clock,
      policy: {
        sessionRetention: config.sessionRetention,
        authEventRetention: config.authEventRetention,
        deletedSessionRetention: revocations.windowSeconds,
      },
    });
  const retentionSweeper = setInterval(() => {
    sweepRetention().catch((error: unknown) => logger.warn('retention sweep failed', { error }));
  }, RETENTION_SWEEP_INTERVAL_MS);
  retentionSweeper.unref();

  /** One shutdown however often stop() is called (a signal, then a test's cleanup). */
  let stopping: Promise<void> | undefined;
  return {
    config,
    instanceId,
    yoga,
    database,
    revocations,
    bus,
    auth,
    revocationFeed,
    revocationStream,
    get socketCount() {
      return ws.socketCount;
    },
    get webSocketExecutingCount() {
      return ws.executingCount;
    },
    get pendingEndCount() {
      return pendingEnds.size;
    },
    get deadlineSlotCount() {
      return expiries.slotCount;
    },
    sweepExpiredSessions,
    sweepRetention,
    async start() {
      const address = await http.listen(config.port, config.host);
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return { url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${address.port}` };
    },
    stop() {
      stopping ??= (async () => {
        clearInterval(pruner);
        clearInterval(sweeper);
        clearInterval(throttleSweeper);
        clearInterval(retentionSweeper);
        // Not awaited: an attempt in flight is bounded by the database timeouts and its outcome ignored.
        pendingEnds.stop();
        // HTTP first, synchronously: from this moment no connection is accepted and every answer
        // still to come says `Connection: close`, however soon it is written.
        const httpClosed = http.close(SHUTDOWN_GRACE_MS);
        revocationStream.close();
        await ws.close();
        revocationFeed.close();
        await httpClosed;
        await bus.stop();
        expiries.clear();
        if (ownsDatabase) await database.close();
      })();
      return stopping;
    },
  };
}
