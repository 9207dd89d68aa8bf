import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { PASSWORD, signUp } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import { loginFrom, newAddress, PROXIED } from './helpers/throttle.js';

/** An account-wide budget of 3 failures an hour, across addresses; 5 per account and address as by default. */
const t = useTestApp({ env: { ...PROXIED, LOGIN_MAX_FAILURES_ACCOUNT_WIDE: '3', LOGIN_ACCOUNT_WIDE_WINDOW: '3600' } });

describe('the account-wide failure budget', () => {
  it('refuses an account to new addresses once failures from many addresses spent its budget, each address within its own', async () => {
    const { user } = await signUp(t.gql);
    for (let i = 0; i < 3; i += 1) {
      expect(codes(await loginFrom(t.gql, newAddress(), user.email, 'wrong password'))).toEqual([
        'INVALID_CREDENTIALS',
      ]);
    }
    expect(codes(await loginFrom(t.gql, newAddress(), user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    expect(codes(await loginFrom(t.gql, `2001:db8:77::1`, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
  });

  it('leaves an address that signed into the account before its own budget: the owner is not locked out', async () => {
    const { user } = await signUp(t.gql);
    const home = newAddress();
    expect((await loginFrom(t.gql, home, user.email, PASSWORD)).errors).toBeUndefined();
    for (let i = 0; i < 4; i += 1) {
      expect(codes(await loginFrom(t.gql, newAddress(), user.email, 'wrong password'))).toEqual([
        i < 3 ? 'INVALID_CREDENTIALS' : 'RATE_LIMITED',
      ]);
    }
    // Known: a wrong password there still counts against the address's own budget, not the spent one.
    expect(codes(await loginFrom(t.gql, home, user.email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    expect((await loginFrom(t.gql, home, user.email, PASSWORD)).errors).toBeUndefined();
  });

  it("counts one account's budget apart from another's", async () => {
    const { user } = await signUp(t.gql);
    const other = await signUp(t.gql);
    for (let i = 0; i < 3; i += 1) await loginFrom(t.gql, newAddress(), user.email, 'wrong password');
    expect((await loginFrom(t.gql, newAddress(), other.user.email, PASSWORD)).errors).toBeUndefined();
  });
});
