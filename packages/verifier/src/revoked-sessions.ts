import { CLOCK_TOLERANCE_SECONDS } from './token-rules.js';

/**
 * Sessions that ended, by id, each kept only while an access token of it could still be accepted:
 * its end plus the token lifetime plus the verification tolerance. Keyed on sid, never on the token
 * string: ECDSA signatures are malleable.
 */
export class RevokedSessions {
  /** sessionId -> the wall time (ms) after which no token of that session can pass any more. */
  readonly #until = new Map<string, number>();

  constructor(private readonly clock: () => Date) {}

  get size(): number {
    return this.#until.size;
  }

  /**
   * Returns whether the end was new. The end's time is the server's, and so is every token's `exp`
   * this service compares with its own clock: the window needs no correction for skew. An end
   * claimed in the future is held at most one window ahead, so a wild time cannot lock a session out for good.
   */
  add(sessionId: string, endedAt: Date, accessTokenTtlSeconds: number): boolean {
    const now = this.clock().getTime();
    const windowMs = (accessTokenTtlSeconds + CLOCK_TOLERANCE_SECONDS) * 1000;
    const ended = Math.min(endedAt.getTime(), now + windowMs);
    const until = ended + windowMs;
    const known = this.#until.get(sessionId);
    if (known !== undefined && known >= now) {
      if (until > known) this.#until.set(sessionId, until);
      return false;
    }
    if (until < now) return false;
    this.#until.set(sessionId, until);
    return true;
  }

  has(sessionId: string): boolean {
    const until = this.#until.get(sessionId);
    if (until === undefined) return false;
    if (until >= this.clock().getTime()) return true;
    this.#until.delete(sessionId);
    return false;
  }

  /** Drops ends that no acceptable token can refer to any more. */
  prune(): void {
    const now = this.clock().getTime();
    for (const [sessionId, until] of this.#until) if (until < now) this.#until.delete(sessionId);
  }
}
