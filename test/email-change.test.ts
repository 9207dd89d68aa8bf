import { describe, expect, it } from 'vitest';
import { useStartedApp } from './helpers/app.js';
import { LOGIN, login, PASSWORD, signUp, twoDevices, uniqueEmail } from './helpers/auth-flows.js';
import {
  CONFIRM_EMAIL_CHANGE,
  REQUEST_EMAIL_CHANGE,
  requestVerification,
  VERIFY_EMAIL,
} from './helpers/email-flows.js';
import { eventually } from './helpers/eventually.js';
import { codes } from './helpers/gql.js';
import { useSmtpServer } from './helpers/smtp.js';
import { watchRevocations } from './helpers/ws.js';

const ME = 'query { me { email emailVerified } }';
const EVENTS = 'query { myAuthEvents(first: 50) { type sessionId reason } }';
const smtp = useSmtpServer();
const t = useStartedApp(() => ({ env: { SMTP_URL: smtp().url } }));

async function requestChange(token: string, newEmail: string, password = PASSWORD) {
  const result = await t.gql(REQUEST_EMAIL_CHANGE, { newEmail, password }, { token });
  if (result.data?.requestEmailChange !== true) throw new Error(`requestEmailChange: ${JSON.stringify(result)}`);
}

/** Asks for a change to a fresh address and returns the link's token. */
async function changeLink(token: string, newEmail = uniqueEmail('new'), index = 0) {
  await requestChange(token, newEmail);
  return { newEmail, token: (await smtp().mailTo(newEmail, { index })).token! };
}

/** Delivers what is due, then the mails to these addresses (none expected to arrive later). */
async function mailsTo(...addresses: string[]) {
  await t.app.mail.sendDue();
  return addresses.flatMap((address) => smtp().mailsTo(address));
}

describe('email change', () => {
  it('mails a link to the new address and a notice to the old; the link moves the account and ends the other sessions live', async () => {
    const { email, laptop, phone } = await twoDevices(t.gql);
    const onLaptop = await watchRevocations(t, laptop.accessToken);
    const onPhone = await watchRevocations(t, phone.accessToken);
    const newEmail = uniqueEmail('new');
    await requestChange(laptop.accessToken, newEmail);

    const link = await smtp().mailTo(newEmail);
    expect(link.subject).toBe('Confirm your new email address');
    expect(link.link).toMatch(/^http:\/\/localhost:4000\/confirm-email-change\?token=[A-Za-z0-9_-]{43}$/);
    expect(link.html).toContain('Confirm new email');
    expect(link.text).toContain('expires at');
    const notice = await smtp().mailTo(email);
    expect(notice.subject).toBe('A change of your email address was requested');
    expect(notice.text).toContain(newEmail);
    expect(notice.link).toBeNull();
    expect(notice.text + notice.html).not.toContain('token=');
    expect(link.text + link.html + notice.text + notice.html).not.toContain(PASSWORD);

    // Opened on another device, signed in nowhere.
    const confirmed = await t.gql(CONFIRM_EMAIL_CHANGE, { token: link.token });
    expect(confirmed.data).toEqual({ confirmEmailChange: { id: laptop.user.id, email: newEmail, emailVerified: true } });
    await eventually(() => onPhone.feed.events.length > 0);
    expect(onPhone.feed.events).toEqual([expect.objectContaining({ sessionId: phone.session.id, reason: 'EMAIL_CHANGED', current: true })]);
    expect(codes(await t.gql(ME, {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);
    expect((await t.gql(ME, {}, { token: laptop.accessToken })).data).toEqual({ me: { email: newEmail, emailVerified: true } });
    expect(codes(await t.gql(LOGIN, { email, password: PASSWORD }))).toEqual(['INVALID_CREDENTIALS']);
    await login(t.gql, { email: newEmail });

    const events = (await t.gql(EVENTS, {}, { token: laptop.accessToken })).data!.myAuthEvents as unknown[];
    expect(events).toEqual(
      expect.arrayContaining([
        { type: 'EMAIL_CHANGE_REQUESTED', sessionId: laptop.session.id, reason: null },
        { type: 'EMAIL_CHANGED', sessionId: laptop.session.id, reason: null },
        { type: 'SESSION_REVOKED', sessionId: phone.session.id, reason: 'EMAIL_CHANGED' },
      ]),
    );
    expect(onLaptop.feed.events.filter((event) => event.current)).toEqual([]);
    await Promise.all([onLaptop.client.dispose(), onPhone.client.dispose()]);
  });

  it('dies with the session that asked: after its logout, or a password change that ends it, the link is INVALID_EMAIL_TOKEN', async () => {
    const { laptop, phone } = await twoDevices(t.gql);
    const { token } = await changeLink(laptop.accessToken);
    await t.gql('mutation { logout }', {}, { token: laptop.accessToken });
    expect(codes(await t.gql(CONFIRM_EMAIL_CHANGE, { token }))).toEqual(['INVALID_EMAIL_TOKEN']);
    expect(codes(await t.gql(ME, {}, { token: phone.accessToken }))).toEqual([]);

    // A thief with the password asks for a change; the owner changes the password on another device.
    const stolen = await changeLink(phone.accessToken);
    const owner = await login(t.gql, { email: phone.user.email });
    const changed = await t.gql(
      'mutation ($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { accessToken } }',
      { c: PASSWORD, n: 'a brand new passphrase 42' },
      { token: owner.accessToken },
    );
    expect(codes(changed)).toEqual([]);
    expect(codes(await t.gql(CONFIRM_EMAIL_CHANGE, { token: stolen.token }))).toEqual(['INVALID_EMAIL_TOKEN']);
  });

  it('answers INVALID_CREDENTIALS for a wrong password, sends nothing, and counts it against the login throttle', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    const newEmail = uniqueEmail('new');
    for (let i = 0; i < 5; i += 1) {
      const wrong = await t.gql(REQUEST_EMAIL_CHANGE, { newEmail, password: 'not the password' }, { token: user.accessToken });
      expect(codes(wrong)).toEqual(['INVALID_CREDENTIALS']);
    }
    expect(codes(await t.gql(LOGIN, { email, password: PASSWORD }))).toEqual(['RATE_LIMITED']);
    expect(await mailsTo(email, newEmail)).toEqual([]);
  });

  it('answers true for an address another account has, and sends nothing to either', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    const other = await signUp(t.gql);
    await requestChange(user.accessToken, other.user.email);
    expect(await mailsTo(email, other.user.email)).toEqual([]);
  });

  it('answers EMAIL_TAKEN when the address was taken after the request, and leaves the token unspent', async () => {
    const user = await signUp(t.gql);
    const { newEmail, token } = await changeLink(user.accessToken);
    const squatter = await signUp(t.gql, { email: newEmail });
    expect(codes(await t.gql(CONFIRM_EMAIL_CHANGE, { token }))).toEqual(['EMAIL_TAKEN']);
    // Freed again: the same link now works.
    await t.gql('mutation ($p: String!) { deleteAccount(currentPassword: $p) }', { p: PASSWORD }, { token: squatter.accessToken });
    expect((await t.gql(CONFIRM_EMAIL_CHANGE, { token })).data).toEqual({
      confirmEmailChange: { id: user.user.id, email: newEmail, emailVerified: true },
    });
  });

  it('refuses a used token with INVALID_EMAIL_TOKEN', async () => {
    const user = await signUp(t.gql);
    const { token } = await changeLink(user.accessToken);
    expect(codes(await t.gql(CONFIRM_EMAIL_CHANGE, { token }))).toEqual([]);
    expect(codes(await t.gql(CONFIRM_EMAIL_CHANGE, { token }))).toEqual(['INVALID_EMAIL_TOKEN']);
  });

  it('expires a link after EMAIL_CHANGE_TTL (an hour)', async () => {
    const user = await signUp(t.gql);
    const { token } = await changeLink(user.accessToken);
    t.clock.advance(3601);
    expect(codes(await t.gql(CONFIRM_EMAIL_CHANGE, { token }))).toEqual(['INVALID_EMAIL_TOKEN']);
  });

  it('lets a newer request supersede an older link, even one for an address that is taken', async () => {
    const user = await signUp(t.gql);
    const first = await changeLink(user.accessToken);
    const second = await changeLink(user.accessToken);
    expect(codes(await t.gql(CONFIRM_EMAIL_CHANGE, { token: first.token }))).toEqual(['INVALID_EMAIL_TOKEN']);
    await requestChange(user.accessToken, (await signUp(t.gql)).user.email);
    expect(codes(await t.gql(CONFIRM_EMAIL_CHANGE, { token: second.token }))).toEqual(['INVALID_EMAIL_TOKEN']);
  });

  it('refuses tokens of another purpose either way without spending them', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    await requestVerification(t.gql, user.accessToken);
    const verification = (await smtp().mailTo(email)).token!;
    const change = await changeLink(user.accessToken);
    expect(codes(await t.gql(CONFIRM_EMAIL_CHANGE, { token: verification }))).toEqual(['INVALID_EMAIL_TOKEN']);
    expect(codes(await t.gql(VERIFY_EMAIL, { token: change.token }))).toEqual(['INVALID_EMAIL_TOKEN']);
    expect(codes(await t.gql(VERIFY_EMAIL, { token: verification }))).toEqual([]);
    expect(codes(await t.gql(CONFIRM_EMAIL_CHANGE, { token: change.token }))).toEqual([]);
  });

  it('answers RATE_LIMITED with retryAfter beyond 5 requests an hour for one account, taken addresses counted alike', async () => {
    const user = await signUp(t.gql);
    const taken = (await signUp(t.gql)).user.email;
    for (let i = 0; i < 5; i += 1) await requestChange(user.accessToken, i % 2 ? taken : uniqueEmail('new'));
    const limited = await t.gql(REQUEST_EMAIL_CHANGE, { newEmail: taken, password: PASSWORD }, { token: user.accessToken });
    expect(codes(limited)).toEqual(['RATE_LIMITED']);
    // The mail throttle counts in buckets of a tenth of its hour.
    expect(limited.errors![0]!.extensions!.retryAfter).toBeGreaterThanOrEqual(3600);
    expect(limited.errors![0]!.extensions!.retryAfter).toBeLessThanOrEqual(3960);
  });

  it('answers BAD_USER_INPUT for a malformed or unchanged address, and UNAUTHENTICATED without sign-in', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    for (const newEmail of ['not an address', email.toUpperCase()]) {
      const refused = await t.gql(REQUEST_EMAIL_CHANGE, { newEmail, password: PASSWORD }, { token: user.accessToken });
      expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
      expect(refused.errors![0]!.extensions!.field).toBe('newEmail');
    }
    expect(codes(await t.gql(REQUEST_EMAIL_CHANGE, { newEmail: uniqueEmail(), password: PASSWORD }))).toEqual(['UNAUTHENTICATED']);
  });
});
