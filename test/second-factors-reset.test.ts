import { describe, expect, it } from 'vitest';
import { useStartedApp } from './helpers/app.js';
import { requestReset } from './helpers/email-flows.js';
import { AUTH_FIELDS } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import { useSmtpServer } from './helpers/smtp.js';
import { claimsOf, completeLogin, signUpWithTotp, totpCode } from './helpers/totp.js';

const smtp = useSmtpServer();
const t = useStartedApp(() => ({ env: { SMTP_URL: smtp().url } }));

const RESET_PASSWORD = `mutation ($token: String!, $password: String!, $deviceName: String) {
  resetPassword(token: $token, newPassword: $password, deviceName: $deviceName) { ${AUTH_FIELDS} } }`;

describe('a password reset and the second factor', () => {
  it('sets the password and ends every session, then asks for the second step: no bypass', async () => {
    const user = await signUpWithTotp(t.gql, t.clock);
    await requestReset(t, user.email);
    const mail = await smtp().mailTo(user.email);
    const reset = await t.gql(RESET_PASSWORD, { token: mail.token, password: 'a brand new passphrase', deviceName: 'phone' });
    expect(codes(reset)).toEqual(['MFA_REQUIRED']);
    expect(reset.errors![0]!.extensions!['methods']).toEqual(['TOTP', 'RECOVERY_CODE']);
    // The reset itself happened: the old session has ended.
    expect(codes(await t.gql('{ me { id } }', {}, { token: user.signedIn.accessToken }))).toEqual(['SESSION_REVOKED']);
    const mfaToken = reset.errors![0]!.extensions!['mfaToken'] as string;
    const done = await completeLogin(t.gql, mfaToken, totpCode(user.secret, t.clock));
    expect(codes(done)).toEqual([]);
    expect(done.data!.completeLogin.session.deviceName).toBe('phone');
    expect(claimsOf(done.data!.completeLogin.accessToken as string)['amr']).toEqual(['pwd', 'otp', 'mfa']);
  });
});
