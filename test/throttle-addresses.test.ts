import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { PASSWORD, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import { loginFrom, newAddress, PROXIED, retryAfterOf } from './helpers/throttle.js';

const SIGN_UP = `mutation ($email: String!, $password: String!) {
  signUp(email: $email, password: $password) { accessToken } }`;

/** Which addresses share a budget, and the budgets of an address: failed logins and sign-ups. */
const t = useTestApp({ env: PROXIED });

describe('which addresses share a budget', () => {
  let subnet = 0;
  /** A fresh /64 of the documentation prefix for each test. */
  function newPrefix(): string {
    subnet += 1;
    return `2001:db8:${subnet.toString(16)}:`;
  }

  async function failFiveTimes(ip: string, email: string) {
    for (let i = 0; i < 5; i += 1) {
      expect(codes(await loginFrom(t.gql, ip, email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    }
  }

  it('counts every address of one IPv6 /64 against one budget, however the address is written', async () => {
    const { user } = await signUp(t.gql);
    const prefix = newPrefix();
    await failFiveTimes(`${prefix}1::a`, user.email);
    // Another address of the same /64, and the same /64 written out in full and in capitals.
    expect(codes(await loginFrom(t.gql, `${prefix}1:ffff:ffff:ffff:fffe`, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    const [, , third] = prefix.split(':');
    const spelledOut = `2001:0DB8:${third!.padStart(4, '0').toUpperCase()}:0001:0000:0000:0000:0001`;
    expect(codes(await loginFrom(t.gql, spelledOut, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
  });

  it('counts the /64s of one IPv6 /56 against one budget too, and keeps neighbouring /56s apart', async () => {
    const { user } = await signUp(t.gql);
    const prefix = newPrefix();
    // Five /64s of one /56 (2001:db8:n:00xx::/56), one failure each: within each /64's budget.
    for (let i = 1; i <= 5; i += 1) {
      expect(codes(await loginFrom(t.gql, `${prefix}${i}::a`, user.email, 'wrong password'))).toEqual(['INVALID_CREDENTIALS']);
    }
    expect(codes(await loginFrom(t.gql, `${prefix}ff::a`, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    // The next /56 (2001:db8:n:01xx::/56) is someone else.
    expect((await loginFrom(t.gql, `${prefix}100::a`, user.email, PASSWORD)).errors).toBeUndefined();
  });

  it('counts an IPv4-mapped IPv6 address as its IPv4 address, and two IPv4 addresses apart', async () => {
    const { user } = await signUp(t.gql);
    const ip = newAddress();
    await failFiveTimes(`::ffff:${ip}`, user.email);
    expect(codes(await loginFrom(t.gql, ip, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    expect(codes(await loginFrom(t.gql, `::FFFF:${ip}`, user.email, PASSWORD))).toEqual(['RATE_LIMITED']);
    // IPv4 addresses are not grouped: the next address is someone else.
    expect((await loginFrom(t.gql, newAddress(), user.email, PASSWORD)).errors).toBeUndefined();
  });
});

describe('login throttling per address', () => {
  const strict = useTestApp({ env: { ...PROXIED, LOGIN_MAX_FAILURES_PER_IP: '3', LOGIN_IP_WINDOW: '3600' }, beside: t });

  it('refuses an address that failed LOGIN_MAX_FAILURES_PER_IP times, whichever accounts it tried', async () => {
    const ip = newAddress();
    for (let i = 0; i < 3; i += 1) {
      expect(codes(await loginFrom(strict.gql, ip, uniqueEmail('spray'), 'wrong password'))).toEqual([
        'INVALID_CREDENTIALS',
      ]);
    }
    const refused = await loginFrom(strict.gql, ip, uniqueEmail('spray'), 'wrong password');
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    expect(retryAfterOf(refused)).toBeGreaterThan(3000);
    expect(retryAfterOf(refused)).toBeLessThanOrEqual(3960);
  });

  it('does not count successful logins against the address', async () => {
    const { user } = await signUp(strict.gql);
    const ip = newAddress();
    for (let i = 0; i < 6; i += 1) {
      expect((await loginFrom(strict.gql, ip, user.email, PASSWORD)).errors).toBeUndefined();
    }
  });
});

describe('sign-up throttling per address', () => {
  const strict = useTestApp({ env: { ...PROXIED, SIGNUP_MAX_PER_IP: '2' }, beside: t });

  it('refuses the sign-up beyond SIGNUP_MAX_PER_IP from one address, and only from that address', async () => {
    const ip = newAddress();
    const from = { headers: { 'x-forwarded-for': ip } };
    for (let i = 0; i < 2; i += 1) {
      expect((await strict.gql(SIGN_UP, { email: uniqueEmail(), password: PASSWORD }, from)).errors).toBeUndefined();
    }
    const refused = await strict.gql(SIGN_UP, { email: uniqueEmail(), password: PASSWORD }, from);
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    expect(Number.isInteger(retryAfterOf(refused))).toBe(true);

    const elsewhere = { headers: { 'x-forwarded-for': newAddress() } };
    expect((await strict.gql(SIGN_UP, { email: uniqueEmail(), password: PASSWORD }, elsewhere)).errors).toBeUndefined();
  });
});

describe('enumerating accounts through signUp', () => {
  const limited = useTestApp({ env: { SIGNUP_MAX_PER_IP: '3' } });

  it('costs a sign-up attempt per address probed, taken or not, and once the budget is spent says nothing of the next', async () => {
    const taken = await signUp(limited.gql);
    const probe = (email: string) =>
      limited.gql('mutation ($e: String!, $p: String!) { signUp(email: $e, password: $p) { accessToken } }', { e: email, p: PASSWORD });
    // The budget had one sign-up already (the account's own); two probes fit.
    expect(codes(await probe(taken.user.email))).toEqual(['EMAIL_TAKEN']);
    expect(codes(await probe(uniqueEmail()))).toEqual([]);
    for (const email of [taken.user.email, uniqueEmail()]) {
      expect(codes(await probe(email))).toEqual(['RATE_LIMITED']);
    }
  });
});
