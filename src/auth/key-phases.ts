/**
 * The phases of the stored signing keys, read against a clock: a rotation writes times into the keys
 * table once, and every instance (each reading the table now and then) moves through the same phases
 * without being told. See docs/operations.md, "Rotating the signing key".
 *
 *   published ──(JWKS cache time)──> signing ──(successor signs)──> verifying only ──(ACCESS_TOKEN_TTL + margin)──> retired
 */
export interface KeyTimes {
  readonly kid: string;
  readonly createdAt: Date;
  /** When a rotated key starts signing; null for a key made on first start. */
  readonly signsFrom: Date | null;
  /** When the key leaves the JWKS and stops verifying; null while it has no successor. */
  readonly retiresAt: Date | null;
}

/**
 * After the successor signs, the old key stays this long beyond ACCESS_TOKEN_TTL: an instance learns
 * of a rotation at its next read of the keys table (every 30 s), and may sign with the old key until
 * then; verification also allows 30 s of clock skew.
 */
export const RETIREMENT_MARGIN_SECONDS = 60;

/** Every key not retired at `now`: in the JWKS, and accepted. */
export function publishedKeys<K extends KeyTimes>(keys: readonly K[], now: Date): K[] {
  return keys.filter((key) => key.retiresAt === null || key.retiresAt.getTime() > now.getTime());
}

/**
 * The key to sign with at `now`: the rotated key that started signing last; before any rotation has
 * taken effect, the oldest key (two instances starting at once on an empty table may both make one).
 */
export function signingKey<K extends KeyTimes>(keys: readonly K[], now: Date): K | undefined {
  const published = publishedKeys(keys, now);
  const started = published
    .filter((key) => key.signsFrom !== null && key.signsFrom.getTime() <= now.getTime())
    .sort((a, b) => b.signsFrom!.getTime() - a.signsFrom!.getTime() || a.kid.localeCompare(b.kid));
  if (started[0]) return started[0];
  const first = published
    .filter((key) => key.signsFrom === null)
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.kid.localeCompare(b.kid));
  return first[0] ?? published[0];
}

/** The times a rotation at `now` writes: the new key's start, and the retirement of every key before it. */
export function rotationTimes(now: Date, policy: { jwksMaxAge: number; accessTokenTtl: number }): { signsFrom: Date; retiresAt: Date } {
  const signsFrom = new Date(now.getTime() + policy.jwksMaxAge * 1000);
  const retiresAt = new Date(signsFrom.getTime() + (policy.accessTokenTtl + RETIREMENT_MARGIN_SECONDS) * 1000);
  return { signsFrom, retiresAt };
}
