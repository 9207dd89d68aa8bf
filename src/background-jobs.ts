import type { Logger } from './logger.js';

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
