import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { AUTH_FIELDS, login, PASSWORD, refresh, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import {
  claimsOf,
  completeLogin,
  CONFIRM_TOTP,
  firstStep,
  LOGIN_WITH_DELIVERY,
  MY_SECURITY,
  REAUTHENTICATE,
  signUpWithTotp,
  START_TOTP,
  totpCode,
} from './helpers/totp.js';

const t = useTestApp();

const CHANGE_PASSWORD = `mutation ($current: String!, $next: String!) {
  changePassword(currentPassword: $current, newPassword: $next) { accessToken } }`;
const REGENERATE = 'mutation { regenerateRecoveryCodes }';
const DISABLE_TOTP = 'mutation ($code: String!) { disableTotp(code: $code) }';
const MY_AUTH_EVENTS = '{ myAuthEvents { type } }';

async function eventTypes(token: string): Promise<string[]> {
  const result = await t.gql(MY_AUTH_EVENTS, {}, { token });
  return (result.data!.myAuthEvents as { type: string }[]).map((event) => event.type);
}

describe('the second step of a sign-in', () => {
  it('a password-only account signs in at once, its token saying pwd with an auth_time', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const signedIn = await login(t.gql, { email });
    const claims = claimsOf(signedIn.accessToken);
    expect(claims['amr']).toEqual(['pwd']);
    expect(claims['auth_time']).toBe(Math.floor(t.clock().getTime() / 1000));
  });

  it('a TOTP user gets MFA_REQUIRED with an mfaToken and the methods, then signs in with a code: amr pwd, otp, mfa', async () => {
    const user = await signUpWithTotp(t.gql, t.clock);
    const { mfaToken, methods } = await firstStep(t.gql, { email: user.email, deviceName: 'phone' });
    expect(methods).toEqual(['TOTP', 'RECOVERY_CODE']);
    expect(mfaToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const result = await completeLogin(t.gql, mfaToken, totpCode(user.secret, t.clock));
    expect(codes(result)).toEqual([]);
    const payload = result.data!.completeLogin;
    expect(payload.session.deviceName).toBe('phone');
    expect(payload.session.authenticationMethods).toEqual(['pwd', 'otp', 'mfa']);
    const claims = claimsOf(payload.accessToken as string);
    expect(claims['amr']).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims['auth_time']).toBe(Math.floor(t.clock().getTime() / 1000));
    const security = await t.gql(MY_SECURITY, {}, { token: payload.accessToken as string });
    expect(security.data!.mySecurity).toEqual({ totpEnabled: true, recoveryCodesLeft: 10, passkeys: [] });
    // A refresh keeps the session's auth_time and amr: it proves nothing new.
    t.clock.advance(60);
    const refreshed = await refresh(t.gql, payload.refreshToken as string);
    expect(claimsOf(refreshed.accessToken)).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], auth_time: claims['auth_time'] });
    expect(await eventTypes(refreshed.accessToken)).toContain('TOTP_USED');
  });

  it('a wrong password is still INVALID_CREDENTIALS for a TOTP user, with no mfaToken', async () => {
    const user = await signUpWithTotp(t.gql, t.clock);
    const result = await t.gql(LOGIN_WITH_DELIVERY, { email: user.email, password: `${PASSWORD}!` });
    expect(codes(result)).toEqual(['INVALID_CREDENTIALS']);
    expect(result.errors![0]!.extensions!['mfaToken']).toBeUndefined();
  });
});

describe('TOTP codes', () => {
  it('accepts one step of drift either way, not two', async () => {
    const user = await signUpWithTotp(t.gql, t.clock);
    // Away from the step the enrolment spent, so that the step behind is not a replay.
    t.clock.advance(60);
    for (const steps of [-2, 2]) {
      const { mfaToken } = await firstStep(t.gql, { email: user.email });
      expect(codes(await completeLogin(t.gql, mfaToken, totpCode(user.secret, t.clock, steps)))).toEqual(['INVALID_MFA_CODE']);
    }
    const behind = await firstStep(t.gql, { email: user.email });
    expect(codes(await completeLogin(t.gql, behind.mfaToken, totpCode(user.secret, t.clock, -1)))).toEqual([]);
    const ahead = await firstStep(t.gql, { email: user.email });
    expect(codes(await completeLogin(t.gql, ahead.mfaToken, totpCode(user.secret, t.clock, 1)))).toEqual([]);
  });

  it('refuses a code of a step already accepted, and of an earlier step (no replay)', async () => {
    const user = await signUpWithTotp(t.gql, t.clock);
    const code = totpCode(user.secret, t.clock);
    const first = await firstStep(t.gql, { email: user.email });
    expect(codes(await completeLogin(t.gql, first.mfaToken, code))).toEqual([]);
    const second = await firstStep(t.gql, { email: user.email });
    expect(codes(await completeLogin(t.gql, second.mfaToken, code))).toEqual(['INVALID_MFA_CODE']);
    expect(codes(await completeLogin(t.gql, second.mfaToken, totpCode(user.secret, t.clock, -1)))).toEqual(['INVALID_MFA_CODE']);
    // The next step's code still works, and the mfaToken survived the wrong ones.
    t.clock.advance(30);
    expect(codes(await completeLogin(t.gql, second.mfaToken, totpCode(user.secret, t.clock)))).toEqual([]);
  });

  it('counts wrong codes against the login throttle: RATE_LIMITED after 5, even with the right code, and a new password step buys no more', async () => {
    const user = await signUpWithTotp(t.gql, t.clock);
    const { mfaToken } = await firstStep(t.gql, { email: user.email });
    for (let i = 0; i < 5; i += 1) {
      expect(codes(await completeLogin(t.gql, mfaToken, '000000'))).toEqual(['INVALID_MFA_CODE']);
    }
    expect(codes(await completeLogin(t.gql, mfaToken, totpCode(user.secret, t.clock)))).toEqual(['RATE_LIMITED']);
    const again = await t.gql(LOGIN_WITH_DELIVERY, { email: user.email, password: PASSWORD });
    expect(codes(again)).toEqual(['RATE_LIMITED']);
    expect(await eventTypes(user.signedIn.accessToken)).toContain('SECOND_FACTOR_FAILED');
  });
});

describe('recovery codes', () => {
  it('are 10 readable codes of 60 bits; each signs in once; recoveryCodesLeft counts down; use is audited', async () => {
    const user = await signUpWithTotp(t.gql, t.clock);
    expect(user.recoveryCodes).toHaveLength(10);
    expect(new Set(user.recoveryCodes).size).toBe(10);
    for (const code of user.recoveryCodes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/);
    const first = await firstStep(t.gql, { email: user.email });
    // Case and spacing do not matter.
    const used = await completeLogin(t.gql, first.mfaToken, ` ${user.recoveryCodes[0]!.toUpperCase()} `);
    expect(codes(used)).toEqual([]);
    expect(used.data!.completeLogin.session.authenticationMethods).toEqual(['pwd', 'otp', 'mfa']);
    const second = await firstStep(t.gql, { email: user.email });
    expect(codes(await completeLogin(t.gql, second.mfaToken, user.recoveryCodes[0]!))).toEqual(['INVALID_MFA_CODE']);
    const security = await t.gql(MY_SECURITY, {}, { token: user.signedIn.accessToken });
    expect(security.data!.mySecurity.recoveryCodesLeft).toBe(9);
    expect(await eventTypes(user.signedIn.accessToken)).toContain('RECOVERY_CODE_USED');
  });

  it('regenerating them (recently authenticated) kills the old ones', async () => {
    const user = await signUpWithTotp(t.gql, t.clock);
    const fresh = await t.gql(REAUTHENTICATE, { password: PASSWORD, code: totpCode(user.secret, t.clock) }, { token: user.signedIn.accessToken });
    expect(codes(fresh)).toEqual([]);
    const regenerated = await t.gql(REGENERATE, {}, { token: fresh.data!.reauthenticate.accessToken as string });
    expect(codes(regenerated)).toEqual([]);
    const next = regenerated.data!.regenerateRecoveryCodes as string[];
    expect(next).toHaveLength(10);
    const { mfaToken } = await firstStep(t.gql, { email: user.email });
    expect(codes(await completeLogin(t.gql, mfaToken, user.recoveryCodes[1]!))).toEqual(['INVALID_MFA_CODE']);
    expect(codes(await completeLogin(t.gql, mfaToken, next[0]!))).toEqual([]);
  });
});

describe('the mfaToken', () => {
  it('expires after 5 minutes', async () => {
    const user = await signUpWithTotp(t.gql, t.clock);
    const { mfaToken } = await firstStep(t.gql, { email: user.email });
    t.clock.advance(301);
    expect(codes(await completeLogin(t.gql, mfaToken, totpCode(user.secret, t.clock)))).toEqual(['INVALID_MFA_TOKEN']);
  });

  it('is single use', async () => {
    const user = await signUpWithTotp(t.gql, t.clock);
    const { mfaToken } = await firstStep(t.gql, { email: user.email });
    expect(codes(await completeLogin(t.gql, mfaToken, totpCode(user.secret, t.clock)))).toEqual([]);
    t.clock.advance(30);
    expect(codes(await completeLogin(t.gql, mfaToken, totpCode(user.secret, t.clock)))).toEqual(['INVALID_MFA_TOKEN']);
  });

  it('is bound to its account: another user\'s code does not complete it', async () => {
    const alice = await signUpWithTotp(t.gql, t.clock);
    const mallory = await signUpWithTotp(t.gql, t.clock);
    const { mfaToken } = await firstStep(t.gql, { email: alice.email });
    expect(codes(await completeLogin(t.gql, mfaToken, totpCode(mallory.secret, t.clock)))).toEqual(['INVALID_MFA_CODE']);
    expect(codes(await completeLogin(t.gql, mfaToken, mallory.recoveryCodes[0]!))).toEqual(['INVALID_MFA_CODE']);
    const done = await completeLogin(t.gql, mfaToken, totpCode(alice.secret, t.clock));
    expect(done.data!.completeLogin.user.email).toBe(alice.email);
  });

  it('an unknown or malformed token is INVALID_MFA_TOKEN', async () => {
    expect(codes(await completeLogin(t.gql, 'x'.repeat(43), '123456'))).toEqual(['INVALID_MFA_TOKEN']);
    expect(codes(await completeLogin(t.gql, 'nope', '123456'))).toEqual(['INVALID_MFA_TOKEN']);
  });
});

describe('step-up', () => {
  it('startTotpEnrollment needs auth_time within REAUTH_MAX_AGE; reauthenticate proves it again in the same session', async () => {
    const signedIn = await signUp(t.gql);
    t.clock.advance(301);
    expect(codes(await t.gql(START_TOTP, {}, { token: signedIn.accessToken }))).toEqual(['REAUTHENTICATION_REQUIRED']);
    expect(codes(await t.gql(REAUTHENTICATE, { password: `${PASSWORD}!` }, { token: signedIn.accessToken }))).toEqual([
      'INVALID_CREDENTIALS',
    ]);
    const fresh = await t.gql(REAUTHENTICATE, { password: PASSWORD }, { token: signedIn.accessToken });
    expect(codes(fresh)).toEqual([]);
    const payload = fresh.data!.reauthenticate;
    expect(payload.session.id).toBe(signedIn.session.id);
    expect(claimsOf(payload.accessToken as string)['auth_time']).toBe(Math.floor(t.clock().getTime() / 1000));
    expect(codes(await t.gql(START_TOTP, {}, { token: payload.accessToken as string }))).toEqual([]);
    // The refresh token the caller held was rotated: its successor is the one that works.
    expect(codes(await t.gql(`mutation ($r: String) { refresh(refreshToken: $r) { ${AUTH_FIELDS} } }`, { r: payload.refreshToken }))).toEqual([]);
  });

  it('for a user with a second factor, changePassword needs a recent proof, and reauthenticate then needs the code too', async () => {
    const user = await signUpWithTotp(t.gql, t.clock);
    t.clock.advance(301);
    const token = user.signedIn.accessToken;
    expect(codes(await t.gql(CHANGE_PASSWORD, { current: PASSWORD, next: 'another good passphrase' }, { token }))).toEqual([
      'REAUTHENTICATION_REQUIRED',
    ]);
    expect(codes(await t.gql(REAUTHENTICATE, { password: PASSWORD }, { token }))).toEqual(['INVALID_MFA_CODE']);
    const fresh = await t.gql(REAUTHENTICATE, { password: PASSWORD, code: totpCode(user.secret, t.clock) }, { token });
    expect(codes(fresh)).toEqual([]);
    expect(fresh.data!.reauthenticate.session.authenticationMethods).toEqual(['pwd', 'otp', 'mfa']);
    const freshToken = fresh.data!.reauthenticate.accessToken as string;
    expect(claimsOf(freshToken)['amr']).toEqual(['pwd', 'otp', 'mfa']);
    expect(codes(await t.gql(CHANGE_PASSWORD, { current: PASSWORD, next: 'another good passphrase' }, { token: freshToken }))).toEqual([]);
  });

  it('a user without a second factor changes the password without a recent proof', async () => {
    const signedIn = await signUp(t.gql);
    t.clock.advance(301);
    const changed = await t.gql(CHANGE_PASSWORD, { current: PASSWORD, next: 'another good passphrase' }, { token: signedIn.accessToken });
    expect(codes(changed)).toEqual([]);
  });

  it('disableTotp needs a recent proof and a code; then the password alone signs in', async () => {
    const user = await signUpWithTotp(t.gql, t.clock);
    t.clock.advance(301);
    const stale = user.signedIn.accessToken;
    expect(codes(await t.gql(DISABLE_TOTP, { code: totpCode(user.secret, t.clock) }, { token: stale }))).toEqual([
      'REAUTHENTICATION_REQUIRED',
    ]);
    const fresh = await t.gql(REAUTHENTICATE, { password: PASSWORD, code: user.recoveryCodes[0] }, { token: stale });
    const token = fresh.data!.reauthenticate.accessToken as string;
    expect(codes(await t.gql(DISABLE_TOTP, { code: '000000' }, { token }))).toEqual(['INVALID_MFA_CODE']);
    expect(codes(await t.gql(DISABLE_TOTP, { code: totpCode(user.secret, t.clock) }, { token }))).toEqual([]);
    expect((await t.gql(MY_SECURITY, {}, { token })).data!.mySecurity).toEqual({ totpEnabled: false, recoveryCodesLeft: 0, passkeys: [] });
    expect(codes(await t.gql(LOGIN_WITH_DELIVERY, { email: user.email, password: PASSWORD }))).toEqual([]);
    expect(await eventTypes(token)).toEqual(expect.arrayContaining(['TOTP_ENABLED', 'TOTP_DISABLED', 'REAUTHENTICATED']));
  });

  it('confirmTotpEnrollment refuses a wrong code and keeps TOTP off', async () => {
    const signedIn = await signUp(t.gql);
    const started = await t.gql(START_TOTP, {}, { token: signedIn.accessToken });
    const { secret, otpauthUri, qrCodeSvg } = started.data!.startTotpEnrollment;
    expect(otpauthUri).toMatch(new RegExp(`^otpauth://totp/tidepass:.*secret=${secret as string}`));
    expect(otpauthUri).toContain('algorithm=SHA1&digits=6&period=30');
    expect(qrCodeSvg).toMatch(/^<svg/);
    expect(codes(await t.gql(CONFIRM_TOTP, { code: totpCode(secret as string, t.clock, 3) }, { token: signedIn.accessToken }))).toEqual([
      'INVALID_MFA_CODE',
    ]);
    expect((await t.gql(MY_SECURITY, {}, { token: signedIn.accessToken })).data!.mySecurity.totpEnabled).toBe(false);
  });
});
