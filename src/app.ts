import { InvalidVerificationKey, loadSigningKeys, SigningKeyLocked, type SigningKeys } from './auth/keys.js';
import { SecretBox } from './auth/secret-box.js';
import { RevocationSet } from './auth/revocations.js';
import { type AuthService } from './auth/service.js';
import { housekeepingJobs, startBackgroundJobs } from './background-jobs.js';
import { metricsExposure, watchState } from './app-metrics.js';
import { systemClock, type Clock } from './clock.js';
import { invalidConfiguration, type Config } from './config.js';
import { connectPostgres, openPglite, type DatabaseHandle } from './db/client.js';
import { Deadlines, type Expiring } from './deadlines.js';
import { createInProcessBus } from './events/in-process-bus.js';
import { createPostgresBus } from './events/postgres-bus.js';
import type { RevocationBus } from './events/revocation-bus.js';
import { RevocationFeed } from './events/revocation-feed.js';
import { createRevocationStream } from './feed/revocation-stream.js';
import { REVOCATION_CHANNEL } from './events/revocation-wire.js';
import { createYogaServer } from './graphql/yoga.js';
import { createJsonLogger, type Logger } from './logger.js';
import { createMailDelivery, type MailDelivery } from './mail/mail-delivery.js';
import { countUnsentMails } from './db/mail-outbox.js';
import { useGraphqlMetrics } from './metrics/graphql-metrics.js';
import { metricsEnabled } from './metrics/metrics-endpoint.js';
import { Metrics } from './metrics/metrics.js';
import { shutdownOnce } from './shutdown.js';
import { createHttpServer } from './transport/http.js';
import { attachWebSocketTransport } from './transport/ws.js';

import type { App, AppOptions } from './app-types.js';
import { buildDomain } from './domain.js';

export type { App, AppOptions };

/** Probing once a second: a dead LISTEN connection is noticed within a second plus the probe's timeout. */
const LISTEN_HEARTBEAT_MS = 1_000;
/** How often each instance looks for due webhook deliveries. */
const WEBHOOK_POLL_MS = 2_000;

/** The composition root: the only place that creates instances. */
export async function buildApp(config: Config, options: AppOptions = {}): Promise<App> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createJsonLogger();
  const database =
    options.database ?? (config.databaseUrl ? connectPostgres(config.databaseUrl) : await openPglite(config.dataDir));
  await database.migrate();
  const keys = await signingKeys(database, config, clock);
  const revocations = new RevocationSet(config.accessTokenTtl, clock);
  const instanceId = crypto.randomUUID();
  const metrics = new Metrics(clock, { processMetrics: metricsEnabled(config.metrics) });
  metrics.registerBacklog('mail', () => countUnsentMails(database.db));
  const bus = await revocationBus({ database, revocations, instanceId, logger, options, config, metrics });
  // Every socket's and every subscription's token expiry, on one timer; the socket's comes first.
  const expiries = new Deadlines<Expiring>((item) => item.expire());
  const revocationFeed = new RevocationFeed(bus, clock, expiries);
  const mail = createMailDelivery(config, { db: database.db, clock, logger, timer: options.mailTimer });
  const domain = buildDomain({ config, options, database, bus, revocations, keys, clock, logger, mail, metrics });
  const { auth, webhookSender } = domain;
  metrics.registerBacklog('webhook', () => webhookSender.backlog());
  const exposure = metricsExposure(config, metrics);
  const { yoga, http, ws, revocationStream } = buildApi({
    ...{ config, options, auth, revocationFeed, revocations, keys, database, bus, clock, logger, expiries, mail, metrics, exposure },
  });
  watchState(metrics, { revocations, pendingEnds: domain.pendingEnds, ws, revocationStream });
  await bus.start();
  mail.start();
  auth.email.start();
  const stopBackgroundJobs = startBackgroundJobs(
    [
      ...housekeepingJobs({ ...domain, revocations, clock, config, reloadSigningKeys: () => keys.reload() }),
      { everyMs: options.webhooks?.pollMs ?? WEBHOOK_POLL_MS, run: () => webhookSender.sendDue(), failure: 'webhook outbox pass failed' },
    ],
    logger,
  );
  const stopServing = shutdownOnce({
    stopBackgroundJobs,
    pendingEnds: domain.pendingEnds,
    http,
    ws,
    revocationFeed,
    revocationStream,
    bus,
    expiries,
    ownedDatabase: options.database ? undefined : database,
  });
  // Mail and webhooks first: they write to the database that stopServing closes.
  const stop = () =>
    Promise.all([mail.stop(), auth.email.stop(), stopBackgroundJobs(), webhookSender.settled(), exposure.stop()]).then(
      stopServing,
    );
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
      return domain.pendingEnds.size;
    },
    get deadlineSlotCount() {
      return expiries.slotCount;
    },
    sweepExpiredSessions: domain.sweepExpiredSessions,
    sweepRetention: domain.sweepRetention,
    reloadSigningKeys: () => keys.reload(),
    mail,
    webhooks: webhookSender,
    async start() {
      const address = await http.listen(config.port, config.host);
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const metricsUrl = await exposure.start(config.host);
      return { url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${address.port}`, metricsUrl };
    },
    stop,
  };
}

/** GraphQL over HTTP and WebSocket, on one server. */
function buildApi(input: {
  config: Config;
  options: AppOptions;
  auth: AuthService;
  revocationFeed: RevocationFeed;
  revocations: RevocationSet;
  keys: SigningKeys;
  database: DatabaseHandle;
  bus: RevocationBus;
  clock: Clock;
  logger: Logger;
  expiries: Deadlines<Expiring>;
  mail: MailDelivery;
  metrics: Metrics;
  exposure: ReturnType<typeof metricsExposure>;
}) {
  const { config, auth, logger, clock } = input;
  const yoga = createYogaServer({
    auth,
    revocationFeed: input.revocationFeed,
    jwks: () => input.keys.jwks(),
    jwksMaxAge: config.jwksMaxAge,
    logger,
    ping: input.database.ping,
    trustProxy: config.trustProxy,
    errorDetails: config.errorDetails,
    graphiql: config.graphiql,
    maxRequestBodyBytes: config.maxRequestBodyBytes,
    clock,
    corsOrigins: config.corsOrigins,
    pageDirectory: input.options.pageDirectory ?? new URL('../dist/web/', import.meta.url),
    devMailbox: input.mail.devMailbox,
    plugins: [useGraphqlMetrics(input.metrics.registry)],
  });
  const revocationStream = createRevocationStream({
    keys: config.revocationFeedKeys,
    maxClients: config.revocationFeedMaxClients,
    bus: input.bus,
    db: input.database.db,
    clock,
    logger,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    accessTokenTtl: config.accessTokenTtl,
    windowSeconds: input.revocations.windowSeconds,
    isSynchronised: () => input.revocations.synchronised,
    ...input.options.revocationStream,
  });
  const http = createHttpServer(yoga, input.exposure.route(revocationStream.handle));
  const ws = attachWebSocketTransport({
    server: http.server,
    yoga,
    auth,
    bus: input.bus,
    clock,
    logger,
    corsOrigins: config.corsOrigins,
    trustProxy: config.trustProxy,
    expiries: input.expiries,
  });
  return { yoga, http, ws, revocationStream };
}

/** A bad JWT_VERIFICATION_KEYS entry, or a stored key KEY_ENCRYPTION_KEY does not open, is a configuration error: the app does not start. */
async function signingKeys(database: DatabaseHandle, config: Config, clock: Clock): Promise<SigningKeys> {
  try {
    return await loadSigningKeys(database.db, {
      privateJwk: config.jwtPrivateKey,
      verificationJwks: config.jwtVerificationKeys,
      clock,
      secretBox: config.keyEncryptionKey && new SecretBox(config.keyEncryptionKey),
    });
  } catch (error) {
    if (error instanceof InvalidVerificationKey) throw invalidConfiguration([['JWT_VERIFICATION_KEYS', error.message]]);
    if (error instanceof SigningKeyLocked) throw invalidConfiguration([['KEY_ENCRYPTION_KEY', error.message]]);
    throw error;
  }
}

/** LISTEN/NOTIFY on PostgreSQL (many instances); in process on PGlite. Feeds the revocation set. */
async function revocationBus(input: {
  database: DatabaseHandle;
  revocations: RevocationSet;
  instanceId: string;
  logger: Logger;
  options: AppOptions;
  config: Config;
  metrics: Metrics;
}): Promise<RevocationBus> {
  const { database, revocations, logger } = input;
  const bus =
    database.kind === 'postgres'
      ? createPostgresBus({
          url: database.url,
          instanceId: input.instanceId,
          logger,
          heartbeatMs: input.options.listenHeartbeatMs ?? LISTEN_HEARTBEAT_MS,
          probeTimeoutMs: input.config.listenProbeTimeoutMs,
          listenTimeoutMs: input.options.listenTimeoutMs,
          onDesynchronised: () => revocations.markDesynchronised(),
          onResynchronise: () => revocations.loadFrom(database.db),
          observer: input.metrics,
        })
      : createInProcessBus({
          onListenerError: (error) => logger.error('revocation listener failed', { error }),
          listenToDatabase: (onPayload) => database.client.listen(REVOCATION_CHANNEL, onPayload),
        });
  bus.subscribe((event) => revocations.add(event.sessionId, event.revokedAt));
  // The PostgreSQL bus loads the set itself each time its LISTEN connection is (re)established.
  if (database.kind === 'pglite') await revocations.loadFrom(database.db);
  return bus;
}
