import { describe, expect, it } from 'vitest';
import { useStartedApp } from './helpers/app.js';
import { LOGIN, PASSWORD, signUp, uniqueEmail, type Payload } from './helpers/auth-flows.js';
import {
  ME_VERIFIED,
  REQUEST_RESET,
  requestReset,
  requestVerification,
  RESET_PASSWORD,
  VERIFY_EMAIL,
} from './helpers/email-flows.js';
import { codes } from './helpers/gql.js';
import { useSmtpServer } from './helpers/smtp.js';
import { watchRevocations } from './helpers/ws.js';

const NEW_PASSWORD = 'a brand new passphrase';
const smtp = useSmtpServer();
const t = useStartedApp(() => ({ env: { SMTP_URL: smtp().url, MAIL_FROM: 'tidepass <auth@example.com>' } }));

async function resetLink(email: string, index = 0) {
  await requestReset(t, email);
  return smtp().mailTo(email, { index });
}

describe('password reset by mail', () => {
  it('mails a link that sets a new password, ends every session live (PASSWORD_RESET) and signs in one new session', async () => {
    const email = uniqueEmail();
    const laptop = await signUp(t.gql, { email, deviceName: 'laptop' });
    const { client, feed } = await watchRevocations(t, laptop.accessToken);
    const mail = await resetLink(email);
    expect(mail.from).toContain('<auth@example.com>');
    expect(mail.subject).toBe('Reset your password');
    expect(mail.link).toMatch(/^http:\/\/localhost:4000\/reset-password\?token=[A-Za-z0-9_-]{43}$/);
    expect(mail.text).toContain('expires at');
    expect(mail.html).toContain(`href="${mail.link}"`);
    expect(mail.text + mail.html).not.toContain(PASSWORD);

    const reset = await t.gql(RESET_PASSWORD, { token: mail.token, password: NEW_PASSWORD, deviceName: 'phone' });
    expect(codes(reset)).toEqual([]);
    const payload = reset.data!.resetPassword as Payload;
    expect(payload.session.deviceName).toBe('phone');
    await feed.next(1);
    expect(feed.events[0]).toMatchObject({ reason: 'PASSWORD_RESET', current: true });
    expect(codes(await t.gql(ME_VERIFIED, {}, { token: laptop.accessToken }))).toEqual(['SESSION_REVOKED']);
    const me = await t.gql(ME_VERIFIED, {}, { token: payload.accessToken });
    expect(me.data).toEqual({ me: { emailVerified: true } });
    expect(codes(await t.gql(LOGIN, { email, password: PASSWORD }))).toEqual(['INVALID_CREDENTIALS']);
    expect(codes(await t.gql(LOGIN, { email, password: NEW_PASSWORD }))).toEqual([]);
    await client.dispose();
  });

  it('answers true for an unknown address and sends nothing', async () => {
    const email = uniqueEmail('nobody');
    await requestReset(t, email);
    await t.app.mail.sendDue();
    expect(smtp().mailsTo(email)).toEqual([]);
  });

  it('refuses a used token with INVALID_EMAIL_TOKEN', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const { token } = await resetLink(email);
    expect(codes(await t.gql(RESET_PASSWORD, { token, password: NEW_PASSWORD }))).toEqual([]);
    expect(codes(await t.gql(RESET_PASSWORD, { token, password: 'yet another passphrase' }))).toEqual([
      'INVALID_EMAIL_TOKEN',
    ]);
  });

  it('keeps the token when the new password is refused', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const { token } = await resetLink(email);
    const weak = await t.gql(RESET_PASSWORD, { token, password: 'password' });
    expect(codes(weak)).toEqual(['BAD_USER_INPUT']);
    expect(weak.errors![0]!.extensions!.field).toBe('newPassword');
    expect(codes(await t.gql(RESET_PASSWORD, { token, password: NEW_PASSWORD }))).toEqual([]);
  });

  it('lets a newer link supersede an older one', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const first = await resetLink(email, 0);
    const second = await resetLink(email, 1);
    expect(codes(await t.gql(RESET_PASSWORD, { token: first.token, password: NEW_PASSWORD }))).toEqual([
      'INVALID_EMAIL_TOKEN',
    ]);
    expect(codes(await t.gql(RESET_PASSWORD, { token: second.token, password: NEW_PASSWORD }))).toEqual([]);
  });

  it('expires a link after 30 minutes', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const { token } = await resetLink(email);
    t.clock.advance(30 * 60 + 1);
    expect(codes(await t.gql(RESET_PASSWORD, { token, password: NEW_PASSWORD }))).toEqual(['INVALID_EMAIL_TOKEN']);
  });

  it('refuses a token of another purpose without spending it', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    await requestVerification(t.gql, user.accessToken);
    const { token } = await smtp().mailTo(email);
    expect(codes(await t.gql(RESET_PASSWORD, { token, password: NEW_PASSWORD }))).toEqual(['INVALID_EMAIL_TOKEN']);
    expect(codes(await t.gql(VERIFY_EMAIL, { token }))).toEqual([]);
  });

  it('refuses a token that is no token of ours with INVALID_EMAIL_TOKEN', async () => {
    expect(codes(await t.gql(RESET_PASSWORD, { token: 'x'.repeat(43), password: NEW_PASSWORD }))).toEqual([
      'INVALID_EMAIL_TOKEN',
    ]);
    expect(codes(await t.gql(RESET_PASSWORD, { token: 'not a token', password: NEW_PASSWORD }))).toEqual([
      'INVALID_EMAIL_TOKEN',
    ]);
  });

  it('answers RATE_LIMITED beyond 5 requests an hour for one address, known or not', async () => {
    const email = uniqueEmail();
    const nobody = uniqueEmail('nobody');
    await signUp(t.gql, { email });
    for (let i = 0; i < 5; i += 1) await requestReset(t, email);
    for (let i = 0; i < 5; i += 1) await requestReset(t, nobody);
    await smtp().mailTo(email, { index: 4 });
    const limited = await t.gql(REQUEST_RESET, { email });
    const limitedNobody = await t.gql(REQUEST_RESET, { email: nobody });
    expect(codes(limited)).toEqual(['RATE_LIMITED']);
    // The same answer for an address without an account: being limited tells nothing.
    expect(codes(limitedNobody)).toEqual(['RATE_LIMITED']);
    expect(limitedNobody.errors![0]!.extensions!.retryAfter).toBe(limited.errors![0]!.extensions!.retryAfter);
    await t.app.mail.sendDue();
    expect(smtp().mailsTo(email)).toHaveLength(5);
    // A sliding window of an hour counted in tenths: free again within 1.1 hours.
    t.clock.advance(3960);
    await resetLink(email, 5);
  });

  it('answers BAD_USER_INPUT for a malformed address, as sign-up does', async () => {
    expect(codes(await t.gql(REQUEST_RESET, { email: 'not an address' }))).toEqual(['BAD_USER_INPUT']);
  });
});
