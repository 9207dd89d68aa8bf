/** Time is injected everywhere so tests can move it instead of sleeping. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

/** setTimeout's delay is a signed 32-bit number of ms: anything longer would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `action` after `delayMs` of real time, however long (re-arming past ~24.8 days), without
 * keeping the process alive. Returns the cancel function.
 */
export function runAfter(delayMs: number, action: () => void): () => void {
  let timer: NodeJS.Timeout;
  const arm = (remainingMs: number) => {
    timer = setTimeout(
      () => (remainingMs > MAX_TIMER_MS ? arm(remainingMs - MAX_TIMER_MS) : action()),
      Math.max(0, Math.min(remainingMs, MAX_TIMER_MS)),
    );
    timer.unref();
  };
  arm(delayMs);
  return () => clearTimeout(timer);
}
