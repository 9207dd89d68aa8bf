import type { RevocationSet } from './auth/revocations.js';
import type { Throttle } from './auth/throttle.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

const REVOCATION_PRUNE_INTERVAL_MS = 60_000;
const THROTTLE_SWEEP_INTERVAL_MS = 300_000;
const RETENTION_SWEEP_INTERVAL_MS = 10 * 60_000;
/** Rotations are read this often (and on a token of an unknown kid); key-phases.ts allows for it. */
export const SIGNING_KEY_RELOAD_INTERVAL_MS = 30_000;

/** Work repeated on a timer; a failed run is logged (as `failure`) and the next one tries again. */
export interface BackgroundJob {
  readonly everyMs: number;
  run(): unknown;
  readonly failure: string;
}

/** Starts every job's timer (unref'd: they never keep the process alive); returns the function that stops them. */
export function startBackgroundJobs(jobs: readonly BackgroundJob[], logger: Logger): () => void {
  const timers = jobs.map((job) => {
    const timer = setInterval(() => {
      Promise.resolve()
        .then(() => job.run())
        .catch((error: unknown) => logger.warn(job.failure, { error }));
    }, job.everyMs);
    timer.unref();
    return timer;
  });
  return () => timers.forEach((timer) => clearInterval(timer));
}

/** What an instance sweeps by itself: its revocation set, expired sessions, throttle counters, old rows. */
export function housekeepingJobs(parts: {
  revocations: RevocationSet;
  throttle: Throttle;
  sweepExpiredSessions: () => Promise<unknown>;
  sweepRetention: () => Promise<unknown>;
  reloadSigningKeys: () => Promise<unknown>;
  clock: Clock;
  config: Pick<Config, 'sessionSweepInterval'>;
}): BackgroundJob[] {
  const { revocations, throttle, clock } = parts;
  return [
    { everyMs: REVOCATION_PRUNE_INTERVAL_MS, run: () => revocations.prune(), failure: 'revocation prune failed' },
    {
      everyMs: parts.config.sessionSweepInterval * 1000,
      run: parts.sweepExpiredSessions,
      failure: 'expired-session sweep failed',
    },
    { everyMs: THROTTLE_SWEEP_INTERVAL_MS, run: () => throttle.sweepExpired(clock()), failure: 'rate-limit sweep failed' },
    { everyMs: RETENTION_SWEEP_INTERVAL_MS, run: parts.sweepRetention, failure: 'retention sweep failed' },
    { everyMs: SIGNING_KEY_RELOAD_INTERVAL_MS, run: parts.reloadSigningKeys, failure: 'signing key reload failed' },
  ];
}
