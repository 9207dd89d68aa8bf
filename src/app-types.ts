import type { RetryTimer } from './auth/pending-ends.js';
import type { RetentionSweep } from './auth/retention.js';
import type { RevocationSet } from './auth/revocations.js';
import type { AuthService } from './auth/service.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/client.js';
import type { RevocationBus, SessionRevoked } from './events/revocation-bus.js';
import type { RevocationFeed } from './events/revocation-feed.js';
import type { RevocationStream } from './feed/revocation-stream.js';
import type { TidepassYoga } from './graphql/yoga.js';
import type { Logger } from './logger.js';
import type { MailDelivery, MailTimer } from './mail/mail-delivery.js';

/** What buildApp takes and returns (src/app.ts builds it). */
export interface AppOptions {
  /** A database to use instead of the one the config names; the app does not close it. */
  readonly database?: DatabaseHandle;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** How often the PostgreSQL LISTEN connection is probed (ms); tests shorten it. */
  readonly listenHeartbeatMs?: number;
  /** The longest LISTEN and its reload may take (default 5 s); tests shorten it. */
  readonly listenTimeoutMs?: number;
  /** Where the devices page's build is (default dist/web/); tests point it at an empty folder. */
  readonly pageDirectory?: URL;
  /** Times the retries of session ends kept pending through an outage; tests fire them by hand. */
  readonly pendingEndTimer?: RetryTimer;
  /** How many such ends are kept at most (default 10,000); tests lower it. */
  readonly pendingEndCapacity?: number;
  /** GET /revocations: heartbeat interval (ms, default 15,000) and unsent bytes before a client is cut; tests lower them. */
  readonly revocationStream?: { readonly heartbeatMs?: number; readonly maxBufferedBytes?: number };
  /** Times the outbox sender's passes (after a mail is queued, and its poll); tests fire them by hand. */
  readonly mailTimer?: MailTimer;
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
  /** Reads the signing keys table again (a rotation); runs every 30 s, and on a token of an unknown kid. */
  reloadSigningKeys(): Promise<void>;
  /** How mails leave the outbox; `sendDue()` sends the due ones now. */
  readonly mail: MailDelivery;
  /** Listens on config.port (0: any free port); returns the base URL, and METRICS_PORT's when set. */
  start(): Promise<{ url: string; metricsUrl?: string | undefined }>;
  stop(): Promise<void>;
}
