import { afterEach, describe, expect, it, vi } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { AUTH_FIELDS, PASSWORD, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import { accountKeyOf, countersOf, loginFrom, newAddress, PROXIED, retryAfterOf } from './helpers/throttle.js';

const CHANGE_PASSWORD = `mutation ($current: String!, $next: String!) {
  changePassword(currentPassword: $current, newPassword: $next) { ${AUTH_FIELDS} } }`;

const t = useTestApp({ env: PROXIED });
afterEach(() => {
  vi.useRealTimers();
});

describe('login throttling per account and address', () => {
  it('refuses the sixth attempt after five failures, even with the right password, with RATE_LIMITED and retryAfter in whole seconds', async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    for (let i = 0; i < 5; i += 1) {
      expect(codes(await loginFrom(t.gql, ip, user.email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    }
    const refused = await loginFrom(t.gql, ip, user.email, PASSWORD);
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    expect(refused.data).toBeNull();
    const retryAfter = retryAfterOf(refused);
    expect(Number.isInteger(retryAfter)).toBe(true);
    // A failure counts for one window plus at most a tenth of it (the sliding window's buckets).
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(990);
  });

  it('counts an unknown email exactly like a known one, so the limit tells nothing about who has an account', async () => {
    const ip = newAddress();
    const nobody = uniqueEmail('nobody');
    for (let i = 0; i < 5; i += 1) {
      expect(codes(await loginFrom(t.gql, ip, nobody, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    }
    expect(codes(await loginFrom(t.gql, ip, nobody, 'wrong password'))).toEqual(['RATE_LIMITED']);
  });

  it('keeps a separate budget for the same account from another address', async () => {
    const { user } = await signUp(t.gql);
    const attacker = newAddress();
    for (let i = 0; i < 6; i += 1) await loginFrom(t.gql, attacker, user.email, 'wrong password');
    expect(codes(await loginFrom(t.gql, attacker, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);

    const owner = await loginFrom(t.gql, newAddress(), user.email, PASSWORD);
    expect(owner.errors).toBeUndefined();
  });

  it("clears the account's counter on a successful login", async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    for (let i = 0; i < 4; i += 1) await loginFrom(t.gql, ip, user.email, 'wrong password');
    expect((await loginFrom(t.gql, ip, user.email, PASSWORD)).errors).toBeUndefined();
    for (let i = 0; i < 5; i += 1) {
      expect(codes(await loginFrom(t.gql, ip, user.email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    }
    expect(codes(await loginFrom(t.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
  });

  it('checks at most five of twenty wrong passwords sent at once', async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => loginFrom(t.gql, ip, user.email, 'wrong password')),
    );
    const answered = results.map((result) => codes(result)[0]).sort();
    expect(answered.filter((code) => code === 'INVALID_CREDENTIALS')).toHaveLength(5);
    expect(answered.filter((code) => code === 'RATE_LIMITED')).toHaveLength(15);
  });

  it('lets the account try again once its failures have left the window, after exactly retryAfter seconds', async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    // The throttle reads Date, not our injected clock: move (and freeze) Date only.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    for (let i = 0; i < 5; i += 1) await loginFrom(t.gql, ip, user.email, 'wrong password');
    expect(codes(await loginFrom(t.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);

    vi.setSystemTime(Date.now() + 600_000);
    const later = await loginFrom(t.gql, ip, user.email, PASSWORD);
    expect(codes(later)).toEqual(['RATE_LIMITED']);
    const retryAfter = retryAfterOf(later) as number;
    expect(retryAfter).toBeGreaterThan(300);
    expect(retryAfter).toBeLessThanOrEqual(390);

    vi.setSystemTime(Date.now() + (retryAfter - 1) * 1000);
    expect(codes(await loginFrom(t.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    vi.setSystemTime(Date.now() + 1000);
    expect((await loginFrom(t.gql, ip, user.email, PASSWORD)).errors).toBeUndefined();
  });

  it('does not count refused attempts: hammering a locked account does not prolong its lock-out', async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    for (let i = 0; i < 5; i += 1) await loginFrom(t.gql, ip, user.email, 'wrong password');
    const first = await loginFrom(t.gql, ip, user.email, 'wrong password');
    expect(codes(first)).toEqual(['RATE_LIMITED']);
    const unlockedAt = Date.now() + (retryAfterOf(first) as number) * 1000;
    // Ten more tries spread over the lock-out, each refused without checking anything.
    for (let i = 1; i <= 10; i += 1) {
      vi.setSystemTime(unlockedAt - 1000 - (10 - i) * 60_000);
      expect(codes(await loginFrom(t.gql, ip, user.email, 'wrong password'))).toEqual(['RATE_LIMITED']);
    }
    vi.setSystemTime(unlockedAt);
    expect((await loginFrom(t.gql, ip, user.email, PASSWORD)).errors).toBeUndefined();
  });

  it('slides: failures at the end of one window still count at the start of the next, so the boundary gives no second budget', async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const start = Date.now();
    // One failure opens what a fixed-window counter would call a 15-minute window ...
    expect(codes(await loginFrom(t.gql, ip, user.email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    // ... four more in its last second ...
    vi.setSystemTime(start + 899_000);
    for (let i = 0; i < 4; i += 1) {
      expect(codes(await loginFrom(t.gql, ip, user.email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    }
    // ... and right after it ends: a fixed window would allow five more tries here. The four of a
    // second ago still count: one more fits (the first failure left the window), a second does not.
    vi.setSystemTime(start + 990_001);
    expect(codes(await loginFrom(t.gql, ip, user.email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    const refused = await loginFrom(t.gql, ip, user.email, 'wrong password');
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    // Not before the four of second 899 have left the window: 900 s after them, plus at most a tenth.
    const retryAfter = retryAfterOf(refused) as number;
    expect(start + 990_001 + retryAfter * 1000).toBeGreaterThanOrEqual(start + 899_000 + 900_000);
    expect(start + 990_001 + retryAfter * 1000).toBeLessThanOrEqual(start + 899_000 + 990_000 + 1000);
    vi.setSystemTime(start + 899_000 + 900_000 - 1);
    expect(codes(await loginFrom(t.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    vi.setSystemTime(start + 990_001 + retryAfter * 1000);
    expect((await loginFrom(t.gql, ip, user.email, PASSWORD)).errors).toBeUndefined();
  });
});

describe('budgets taken together', () => {
  const strict = useTestApp({ env: { ...PROXIED, LOGIN_MAX_FAILURES_PER_ACCOUNT: '2', LOGIN_MAX_FAILURES_PER_IP: '3' }, beside: t });

  it("does not charge the address for an attempt its account's budget refuses, nor the account for one the address's refuses", async () => {
    const ip = newAddress();
    const [first, second, third] = [uniqueEmail(), uniqueEmail(), uniqueEmail()];
    for (let i = 0; i < 2; i += 1) {
      expect(codes(await loginFrom(strict.gql, ip, first, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    }
    // Refused for the account, three times: the address has spent 2 of its 3 points, not 5.
    for (let i = 0; i < 3; i += 1) {
      expect(codes(await loginFrom(strict.gql, ip, first, 'wrong password'))).toEqual(['RATE_LIMITED']);
    }
    expect(codes(await loginFrom(strict.gql, ip, second, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    // Now the address's budget is spent: refused, and the third account keeps nothing of it.
    expect(codes(await loginFrom(strict.gql, ip, third, 'wrong password'))).toEqual(['RATE_LIMITED']);
    expect(await countersOf(t, accountKeyOf(third, ip))).toEqual([]);
    expect(await countersOf(t, `login-ip:${ip}`)).toEqual([3]);
  });
});

describe('changePassword', () => {
  it('throttles the current-password check like a login, on the same counter', async () => {
    const ip = newAddress();
    const from = { headers: { 'x-forwarded-for': ip } };
    const { user, accessToken } = await signUp(t.gql);
    for (let i = 0; i < 5; i += 1) {
      const wrong = await t.gql(CHANGE_PASSWORD, { current: 'wrong password', next: 'a new passphrase' }, { ...from, token: accessToken });
      expect(codes(wrong)).toEqual(['INVALID_CREDENTIALS']);
    }
    const refused = await t.gql(CHANGE_PASSWORD, { current: PASSWORD, next: 'a new passphrase' }, { ...from, token: accessToken });
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    expect(codes(await loginFrom(t.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
  });
});

describe('shared by every instance', () => {
  const other = useTestApp({ env: PROXIED, beside: t, separatePool: true });

  it('counts failures made on one instance when another is asked', async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    for (const gql of [t.gql, t.gql, t.gql, other.gql, other.gql]) {
      expect(codes(await loginFrom(gql, ip, user.email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    }
    expect(codes(await loginFrom(t.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    expect(codes(await loginFrom(other.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
  });
});
