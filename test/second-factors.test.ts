import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { login, signUp, uniqueEmail, PASSWORD } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import {
  claimsOf,
  completeLogin,
  firstStep,
  LOGIN_WITH_DELIVERY,
  MY_SECURITY,
  signUpWithTotp,
  totpCode,
} from './helpers/totp.js';

const t = useTestApp();

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
  });

  it('a wrong password is still INVALID_CREDENTIALS for a TOTP user, with no mfaToken', async () => {
    const user = await signUpWithTotp(t.gql, t.clock);
    const result = await t.gql(LOGIN_WITH_DELIVERY, { email: user.email, password: `${PASSWORD}!` });
    expect(codes(result)).toEqual(['INVALID_CREDENTIALS']);
    expect(result.errors![0]!.extensions!['mfaToken']).toBeUndefined();
  });
});
