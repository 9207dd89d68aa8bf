import type { Clock } from '../../src/clock.js';

export interface FakeClock extends Clock {
  advance(seconds: number): void;
  set(date: Date): void;
}

/** A clock that moves only when told to; starts at the real now so JWT iat values stay plausible. */
export function fakeClock(start: Date = new Date()): FakeClock {
  let now = start.getTime();
  const clock = (() => new Date(now)) as FakeClock;
  clock.advance = (seconds) => {
    now += seconds * 1000;
  };
  clock.set = (date) => {
    now = date.getTime();
  };
  return clock;
}

/** Timers that fire only when the test says so (the RetryTimer of pending session ends). */
export interface ManualTimers {
  readonly timer: (delayMs: number, run: () => Promise<void>) => () => void;
  /** The delays of the timers armed and not yet fired or cancelled. */
  readonly armed: number[];
  /** Fires every armed timer and waits until what they ran has settled. */
  fire(): Promise<void>;
}

export function manualTimers(): ManualTimers {
  const armed: { delayMs: number; run: () => Promise<void> }[] = [];
  return {
    timer: (delayMs, run) => {
      const entry = { delayMs, run };
      armed.push(entry);
      return () => {
        const index = armed.indexOf(entry);
        if (index >= 0) armed.splice(index, 1);
      };
    },
    get armed() {
      return armed.map((entry) => entry.delayMs);
    },
    async fire() {
      await Promise.all(armed.splice(0).map((entry) => entry.run()));
    },
  };
}
