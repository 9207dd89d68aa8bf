import { describe, expect, it } from 'vitest';
import type { MailTimer } from '../src/mail/mail-delivery.js';
import { withTestApp, useStartedApp } from './helpers/app.js';
import { LOGIN, PASSWORD, signUp, uniqueEmail, type Payload } from './helpers/auth-flows.js';
import { createTestDatabase } from './helpers/database.js';
import { codeOf, ME_VERIFIED, REQUEST_CODE, requestCode, SIGN_IN_WITH_CODE } from './helpers/email-flows.js';
import { codes } from './helpers/gql.js';
import { useSmtpServer } from './helpers/smtp.js';

const smtp = useSmtpServer();
/** Eight failures per account and address: room for a code's five wrong tries and its last right one. */
const env = () => ({ SMTP_URL: smtp().url, LOGIN_MAX_FAILURES_PER_ACCOUNT: '8', LOGIN_MAX_FAILURES_PER_IP: '1000' });
const t = useStartedApp(() => ({ env: env() }));
const EVENTS = 'query { myAuthEvents(first: 20) { type } }';
/** The worker and the sender run only when a test asks (settled, sendDue): an instance that dies before. */
const neverFired = (): MailTimer => () => () => {};

/** A code mailed to `email` (the index-th mail to it). */
async function mailedCode(email: string, index = 0): Promise<string> {
  await requestCode(t, email);
  return codeOf(await smtp().mailTo(email, { index }));
}

/** Some other six digits than `code`. */
const wrong = (code: string, n = 1) => ((Number(code) + n) % 1_000_000).toString().padStart(6, '0');

describe('sign-in codes by mail', () => {
  it('mails six digits that sign in a new session once, and mark the address verified', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    await requestCode(t, email);
    const mail = await smtp().mailTo(email);
    expect(mail.subject).toBe('Your sign-in code');
    expect(mail.text).toContain('sign in');
    expect(mail.text).toMatch(/expires at \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(mail.html).toContain(codeOf(mail));
    expect(mail.text + mail.html).not.toContain(PASSWORD);

    const signedIn = await t.gql(SIGN_IN_WITH_CODE, { email, code: codeOf(mail), deviceName: 'phone' });
    expect(codes(signedIn)).toEqual([]);
    const payload = signedIn.data!.signInWithCode as Payload;
    expect(payload.session.deviceName).toBe('phone');
    expect(payload.user.email).toBe(email);
    expect((await t.gql(ME_VERIFIED, {}, { token: payload.accessToken })).data).toEqual({ me: { emailVerified: true } });
    const events = (await t.gql(EVENTS, {}, { token: payload.accessToken })).data!.myAuthEvents as { type: string }[];
    expect(events.map((event) => event.type)).toEqual(expect.arrayContaining(['SIGN_IN_CODE_REQUESTED', 'SIGNED_IN_WITH_CODE']));
    expect(codes(await t.gql(SIGN_IN_WITH_CODE, { email, code: codeOf(mail) }))).toEqual(['INVALID_SIGN_IN_CODE']);
  });

  it('refuses a code after 10 minutes', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const code = await mailedCode(email);
    t.clock.advance(600 + 1);
    expect(codes(await t.gql(SIGN_IN_WITH_CODE, { email, code }))).toEqual(['INVALID_SIGN_IN_CODE']);
  });

  it('kills a code at its fifth wrong try', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const code = await mailedCode(email);
    for (let i = 1; i <= 5; i += 1) {
      expect(codes(await t.gql(SIGN_IN_WITH_CODE, { email, code: wrong(code, i) }))).toEqual(['INVALID_SIGN_IN_CODE']);
    }
    expect(codes(await t.gql(SIGN_IN_WITH_CODE, { email, code }))).toEqual(['INVALID_SIGN_IN_CODE']);
  });

  it('survives four wrong tries', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const code = await mailedCode(email);
    for (let i = 1; i <= 4; i += 1) await t.gql(SIGN_IN_WITH_CODE, { email, code: wrong(code, i) });
    expect(codes(await t.gql(SIGN_IN_WITH_CODE, { email, code }))).toEqual([]);
  });

  it('lets a newer code supersede an older one', async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const first = await mailedCode(email, 0);
    const second = await mailedCode(email, 1);
    if (first !== second) {
      expect(codes(await t.gql(SIGN_IN_WITH_CODE, { email, code: first }))).toEqual(['INVALID_SIGN_IN_CODE']);
    }
    expect(codes(await t.gql(SIGN_IN_WITH_CODE, { email, code: second }))).toEqual([]);
  });

  it('answers true for an unknown address and sends nothing; a code for it is INVALID_SIGN_IN_CODE', async () => {
    const email = uniqueEmail('nobody');
    await requestCode(t, email);
    await t.app.mail.sendDue();
    expect(smtp().mailsTo(email)).toEqual([]);
    expect(codes(await t.gql(SIGN_IN_WITH_CODE, { email, code: '123456' }))).toEqual(['INVALID_SIGN_IN_CODE']);
  });

  it('answers RATE_LIMITED beyond 5 requests an hour for one address, known or not', async () => {
    const email = uniqueEmail();
    const nobody = uniqueEmail('nobody');
    await signUp(t.gql, { email });
    for (let i = 0; i < 5; i += 1) {
      await requestCode(t, email);
      await requestCode(t, nobody);
    }
    const limited = await t.gql(REQUEST_CODE, { email });
    const limitedNobody = await t.gql(REQUEST_CODE, { email: nobody });
    expect(codes(limited)).toEqual(['RATE_LIMITED']);
    expect(codes(limitedNobody)).toEqual(['RATE_LIMITED']);
    expect(limitedNobody.errors![0]!.extensions!.retryAfter).toBe(limited.errors![0]!.extensions!.retryAfter);
  });

  it("counts wrong codes against the account's login throttle", async () => {
    const email = uniqueEmail();
    await signUp(t.gql, { email });
    const code = await mailedCode(email);
    for (let i = 1; i <= 8; i += 1) await t.gql(SIGN_IN_WITH_CODE, { email, code: wrong(code, i) });
    expect(codes(await t.gql(SIGN_IN_WITH_CODE, { email, code }))).toEqual(['RATE_LIMITED']);
    expect(codes(await t.gql(LOGIN, { email, password: PASSWORD }))).toEqual(['RATE_LIMITED']);
  });

  it('keeps a request answered before a restart, and mails its code after it', async () => {
    const database = await createTestDatabase();
    try {
      const email = uniqueEmail();
      await withTestApp({ env: env(), mailTimer: neverFired(), database }, async (first) => {
        await signUp(first.gql, { email });
        expect((await first.gql(REQUEST_CODE, { email })).data).toEqual({ requestSignInCode: true });
      });
      expect(smtp().mailsTo(email)).toEqual([]);
      await withTestApp({ env: env(), database }, async (second) => {
        const code = codeOf(await smtp().mailTo(email, { timeoutMs: 20_000 }));
        expect(codes(await second.gql(SIGN_IN_WITH_CODE, { email, code }))).toEqual([]);
      });
      expect(smtp().mailsTo(email)).toHaveLength(1);
    } finally {
      await database.drop();
    }
  }, 120_000);
});
