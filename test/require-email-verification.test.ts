import { describe, expect, it } from 'vitest';
import { useStartedApp } from './helpers/app.js';
import { LOGIN, PASSWORD, SIGN_UP, uniqueEmail } from './helpers/auth-flows.js';
import { codeOf, requestCode, SIGN_IN_WITH_CODE, VERIFY_EMAIL } from './helpers/email-flows.js';
import { codes } from './helpers/gql.js';
import { useSmtpServer } from './helpers/smtp.js';

const smtp = useSmtpServer();
const t = useStartedApp(() => ({ env: { SMTP_URL: smtp().url, REQUIRE_EMAIL_VERIFICATION: 'true' } }));

describe('REQUIRE_EMAIL_VERIFICATION=true', () => {
  it('creates the account at sign-up, mails the link and signs nothing in until the address is verified', async () => {
    const email = uniqueEmail();
    const signedUp = await t.gql(SIGN_UP, { email, password: PASSWORD });
    expect(codes(signedUp)).toEqual(['EMAIL_NOT_VERIFIED']);
    expect(signedUp.data).toBeNull();
    const first = await smtp().mailTo(email);
    expect(first.subject).toBe('Verify your email address');
    expect(codes(await t.gql(SIGN_UP, { email, password: PASSWORD }))).toEqual(['EMAIL_TAKEN']);

    // The right password: refused, and a new link mailed (the first one superseded).
    expect(codes(await t.gql(LOGIN, { email, password: PASSWORD }))).toEqual(['EMAIL_NOT_VERIFIED']);
    const second = await smtp().mailTo(email, { index: 1 });
    expect(codes(await t.gql(LOGIN, { email, password: 'a wrong password' }))).toEqual(['INVALID_CREDENTIALS']);

    expect(codes(await t.gql(VERIFY_EMAIL, { token: first.token }))).toEqual(['INVALID_EMAIL_TOKEN']);
    expect(codes(await t.gql(VERIFY_EMAIL, { token: second.token }))).toEqual([]);
    expect(codes(await t.gql(LOGIN, { email, password: PASSWORD }))).toEqual([]);
  });

  it('mails login links within the mail limit, and still answers EMAIL_NOT_VERIFIED beyond it', async () => {
    const email = uniqueEmail();
    await t.gql(SIGN_UP, { email, password: PASSWORD });
    for (let i = 0; i < 6; i += 1) {
      expect(codes(await t.gql(LOGIN, { email, password: PASSWORD }))).toEqual(['EMAIL_NOT_VERIFIED']);
    }
    await smtp().mailTo(email, { index: 4 });
    await t.app.mail.sendDue();
    // The sign-up's link and four of the logins': five an hour to one address.
    expect(smtp().mailsTo(email)).toHaveLength(5);
  });

  it('lets a sign-in code in, since it proves the address', async () => {
    const email = uniqueEmail();
    await t.gql(SIGN_UP, { email, password: PASSWORD });
    await smtp().mailTo(email);
    await requestCode(t, email);
    const code = codeOf(await smtp().mailTo(email, { index: 1 }));
    expect(codes(await t.gql(SIGN_IN_WITH_CODE, { email, code }))).toEqual([]);
    expect(codes(await t.gql(LOGIN, { email, password: PASSWORD }))).toEqual([]);
  });
});
