import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { signUp, uniqueEmail } from './helpers/auth-flows.js';
import { ME_VERIFIED, REQUEST_VERIFICATION, requestVerification, VERIFY_EMAIL } from './helpers/email-flows.js';
import { codes } from './helpers/gql.js';
import { useSmtpServer } from './helpers/smtp.js';

const smtp = useSmtpServer();
const t = useTestApp(() => ({ env: { SMTP_URL: smtp().url, PUBLIC_URL: 'https://auth.example/' } }));

describe('email verification', () => {
  it('mails a link whose token marks the address verified, once', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    expect((await t.gql(ME_VERIFIED, {}, { token: user.accessToken })).data).toEqual({ me: { emailVerified: false } });
    await requestVerification(t.gql, user.accessToken);
    const mail = await smtp().mailTo(email);
    expect(mail.subject).toBe('Verify your email address');
    expect(mail.link).toMatch(/^https:\/\/auth\.example\/verify-email\?token=[A-Za-z0-9_-]{43}$/);
    expect(mail.html).toContain('Verify email');

    const verified = await t.gql(VERIFY_EMAIL, { token: mail.token });
    expect(verified.data).toEqual({ verifyEmail: { id: user.user.id, email, emailVerified: true } });
    expect((await t.gql(ME_VERIFIED, {}, { token: user.accessToken })).data).toEqual({ me: { emailVerified: true } });
    expect(codes(await t.gql(VERIFY_EMAIL, { token: mail.token }))).toEqual(['INVALID_EMAIL_TOKEN']);
  });

  it('sends nothing for an address already verified', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    await requestVerification(t.gql, user.accessToken);
    await t.gql(VERIFY_EMAIL, { token: (await smtp().mailTo(email)).token });
    await requestVerification(t.gql, user.accessToken);
    await t.app.mail.sendDue();
    expect(smtp().mailsTo(email)).toHaveLength(1);
  });

  it('expires a link after 24 hours', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    await requestVerification(t.gql, user.accessToken);
    const { token } = await smtp().mailTo(email);
    t.clock.advance(24 * 3600 + 1);
    expect(codes(await t.gql(VERIFY_EMAIL, { token }))).toEqual(['INVALID_EMAIL_TOKEN']);
  });

  it('lets a newer link supersede an older one', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    await requestVerification(t.gql, user.accessToken);
    const first = await smtp().mailTo(email, { index: 0 });
    await requestVerification(t.gql, user.accessToken);
    const second = await smtp().mailTo(email, { index: 1 });
    expect(codes(await t.gql(VERIFY_EMAIL, { token: first.token }))).toEqual(['INVALID_EMAIL_TOKEN']);
    expect(codes(await t.gql(VERIFY_EMAIL, { token: second.token }))).toEqual([]);
  });

  it('answers RATE_LIMITED with retryAfter beyond 5 mails an hour to the address', async () => {
    const user = await signUp(t.gql);
    for (let i = 0; i < 5; i += 1) await requestVerification(t.gql, user.accessToken);
    const limited = await t.gql(REQUEST_VERIFICATION, {}, { token: user.accessToken });
    expect(codes(limited)).toEqual(['RATE_LIMITED']);
    // A sliding window of an hour counted in tenths: free again within 1.1 hours.
    expect(limited.errors![0]!.extensions!.retryAfter).toBeGreaterThanOrEqual(3600);
    expect(limited.errors![0]!.extensions!.retryAfter).toBeLessThanOrEqual(3960);
  });

  it('needs a signed-in caller', async () => {
    expect(codes(await t.gql(REQUEST_VERIFICATION))).toEqual(['UNAUTHENTICATED']);
  });
});
