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
