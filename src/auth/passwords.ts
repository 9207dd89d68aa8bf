import { hash, verify } from '@node-rs/argon2';

/** Algorithm.Argon2id; the package ships it as a const enum, which isolated modules cannot read. */
const ARGON2ID = 2;

/** OWASP's argon2id minimum (m=19 MiB, t=2, p=1). @node-rs/argon2 hashes on libuv's pool, off the event loop. */
export const argon2Parameters = {
  algorithm: ARGON2ID,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, argon2Parameters);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    // A malformed stored hash is not a match; it must never become a way in.
    return false;
  }
}

/** True when a hash was made with weaker parameters than today's and should be redone at login. */
export function needsRehash(passwordHash: string): boolean {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(passwordHash);
  if (!match) return true;
  const [, m, t, p] = match.map(Number);
  return (
    m! < argon2Parameters.memoryCost || t! < argon2Parameters.timeCost || p! < argon2Parameters.parallelism
  );
}

/**
 * A hash to verify against when the account does not exist, so that "no such user" costs the
 * same time as "wrong password". Made once per process, lazily.
 */
export class DummyPasswordHash {
  #hash: Promise<string> | undefined;

  get(): Promise<string> {
    this.#hash ??= hashPassword(`dummy-${crypto.randomUUID()}`);
    return this.#hash;
  }
}
