import { hash } from '@node-rs/argon2';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { users } from '../src/db/schema.js';
import { useTestApp } from './helpers/app.js';
import { login, LOGIN, PASSWORD, SIGN_UP, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';


const t = useTestApp();

async function storedHash(userId: string): Promise<string> {
  const [row] = await t.database.handle.db
    .select({ passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.id, userId));
  return row!.passwordHash;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

describe('password hashes', () => {
  it("are argon2id with at least OWASP's parameters (m=19 MiB, t=2, p=1)", async () => {
    const { user } = await signUp(t.gql);
    expect(await storedHash(user.id)).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('made with older parameters are upgraded at the next successful login, and the password still works', async () => {
    const { user } = await signUp(t.gql);
    const old = await hash(PASSWORD, { algorithm: 2, memoryCost: 4096, timeCost: 1, parallelism: 1 });
    await t.database.handle.db.update(users).set({ passwordHash: old }).where(eq(users.id, user.id));

    const wrong = await t.gql(LOGIN, { email: user.email, password: 'wrong password' });
    expect(codes(wrong)).toEqual(['INVALID_CREDENTIALS']);
    expect(await storedHash(user.id)).toBe(old);

    expect(codes(await t.gql(LOGIN, { email: user.email, password: PASSWORD }))).toEqual([]);
    const upgraded = await storedHash(user.id);
    expect(upgraded).not.toBe(old);
    expect(upgraded).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(codes(await t.gql(LOGIN, { email: user.email, password: PASSWORD }))).toEqual([]);
  });
});

describe('unknown email and wrong password', () => {
  it('get the same INVALID_CREDENTIALS with the same message', async () => {
    const { user } = await signUp(t.gql);
    const wrongPassword = await t.gql(LOGIN, { email: user.email, password: 'wrong password' });
    const unknownEmail = await t.gql(LOGIN, { email: uniqueEmail('nobody'), password: 'wrong password' });
    expect(wrongPassword.errors).toEqual(unknownEmail.errors);
    expect(codes(unknownEmail)).toEqual(['INVALID_CREDENTIALS']);
  });

  it('take indistinguishable time: their medians are within a factor of 0.6 of each other', async () => {
    const { user } = await signUp(t.gql);
    const timed = async (email: string) => {
      const started = performance.now();
      const result = await t.gql(LOGIN, { email, password: 'wrong password' });
      expect(codes(result)).toEqual(['INVALID_CREDENTIALS']);
      return performance.now() - started;
    };
    // Warm-up: the dummy hash is made on first use.
    await timed(uniqueEmail('nobody'));
    const known: number[] = [];
    const unknown: number[] = [];
    // Interleaved, so that load on the machine weighs on both alike; four per account stays under its limit.
    for (let round = 0; round < 16; round += 1) {
      if (round % 4 === 0 && round > 0) await login(t.gql, { email: user.email }); // clears its counter
      known.push(await timed(user.email));
      unknown.push(await timed(uniqueEmail('nobody')));
    }
    // Measured here: about 0.95 with the dummy verification, about 0.35 without it (the request's
    // other work is a third of a login). 0.6 to 1/0.6 tolerates a loaded machine and still catches that.
    const ratio = median(unknown) / median(known);
    expect(ratio).toBeGreaterThan(0.6);
    expect(ratio).toBeLessThan(1 / 0.6);
  });
});

describe('new passwords', () => {
  it.each([
    ['password'],
    ['password123'],
    ['iloveyou1'],
    ['Qwerty123'],
    // Full-width letters are the same password after NFKC.
    ['ｐａｓｓｗｏｒｄ１２３'],
  ])('refuses %s, from the common-password list, with BAD_USER_INPUT on password', async (password) => {
    const result = await t.gql(SIGN_UP, { email: uniqueEmail(), password });
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors![0]!.extensions!.field).toBe('password');
  });

  it('are counted after NFKC: three ligatures "ﬃ" are nine characters, enough', async () => {
    const email = uniqueEmail();
    const signedUp = await t.gql(SIGN_UP, { email, password: 'ﬃﬃﬃ' });
    expect(codes(signedUp)).toEqual([]);
    // The same password typed without ligatures.
    const loggedIn = await t.gql(LOGIN, { email, password: 'ffiffiffi' });
    expect(codes(loggedIn)).toEqual([]);
    expect(loggedIn.data!['login'].user.id).toBe(signedUp.data!['signUp'].user.id);
  });

  it('are refused beyond 256 characters after NFKC, though shorter before', async () => {
    const result = await t.gql(SIGN_UP, { email: uniqueEmail(), password: 'ﬃ'.repeat(86) });
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors![0]!.extensions!.field).toBe('password');
  });
});
