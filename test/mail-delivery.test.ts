import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createJsonLogger } from '../src/logger.js';
import type { MailTimer } from '../src/mail/mail-delivery.js';
import { createTestApp, TEST_KEY_ENCRYPTION_KEY, withTestApp } from './helpers/app.js';
import { signUp, uniqueEmail } from './helpers/auth-flows.js';
import { REQUEST_RESET, requestReset } from './helpers/email-flows.js';
import { createTestDatabase } from './helpers/database.js';
import { codes } from './helpers/gql.js';
import { useSmtpServer } from './helpers/smtp.js';

const smtp = useSmtpServer();
/** Each test builds its own apps (a fresh database each): slow on a busy machine. */
const APP_TEST_TIMEOUT_MS = 90_000;
/** The sender runs only when a test calls app.mail.sendDue(). */
const neverFired = (): MailTimer => () => () => {};

describe('the mail outbox', () => {
  it('keeps a mail through an SMTP outage and delivers it once, after the backoff, when SMTP is back', async () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ write: (line) => lines.push(line) });
    await withTestApp({ env: { SMTP_URL: smtp().url }, mailTimer: neverFired(), logger }, async (t) => {
      const email = uniqueEmail();
      await signUp(t.gql, { email });
      await smtp().down();
      await requestReset(t, email);
      expect(await t.app.mail.sendDue()).toBe(0);
      await smtp().up();
      expect(await t.app.mail.sendDue()).toBe(0); // not yet due: the first retry is 5 s later
      t.clock.advance(5);
      expect(await t.app.mail.sendDue()).toBe(1);
      t.clock.advance(3600);
      expect(await t.app.mail.sendDue()).toBe(0);
      expect(smtp().mailsTo(email)).toHaveLength(1);
      const failure = lines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((l) => l.msg === 'mail delivery failed');
      expect(failure).toMatchObject({ failure: 'ESOCKET', attempt: 1 });
      expect(lines.join('\n')).not.toContain(smtp().mailsTo(email)[0]!.token!);
    });
  }, APP_TEST_TIMEOUT_MS);

  it('delivers after a restart a mail accepted before it', async () => {
    const database = await createTestDatabase();
    try {
      const email = uniqueEmail();
      await withTestApp({ env: { SMTP_URL: smtp().url }, mailTimer: neverFired(), database }, async (t) => {
        await signUp(t.gql, { email });
        await requestReset(t, email);
      });
      expect(smtp().mailsTo(email)).toEqual([]);
      await withTestApp({ env: { SMTP_URL: smtp().url }, database }, () => smtp().mailTo(email));
    } finally {
      await database.drop();
    }
  }, APP_TEST_TIMEOUT_MS);

  it('is sent by one of two instances sending at once', async () => {
    const first = await createTestApp({ env: { SMTP_URL: smtp().url }, mailTimer: neverFired() });
    const second = await createTestApp({
      env: { SMTP_URL: smtp().url },
      mailTimer: neverFired(),
      beside: first,
      separatePool: true,
    });
    try {
      const email = uniqueEmail();
      await signUp(first.gql, { email });
      await requestReset(first, email);
      const sent = await Promise.all([first.app.mail.sendDue(), second.app.mail.sendDue()]);
      expect(sent.sort()).toEqual([0, 1]);
      expect(smtp().mailsTo(email)).toHaveLength(1);
    } finally {
      await second.close();
      await first.close();
    }
  }, APP_TEST_TIMEOUT_MS);
});

describe('without SMTP_URL', () => {
  it('lists the mails with their links at GET /dev/mailbox with NODE_ENV=development', async () => {
    await withTestApp({ env: { NODE_ENV: 'development' } }, async (t) => {
      const email = uniqueEmail();
      await signUp(t.gql, { email });
      await requestReset(t, email);
      const page = await t.app.yoga.fetch('http://localhost/dev/mailbox');
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain(email);
      expect(html).toMatch(/<a href="http:\/\/localhost:4000\/reset-password\?token=[A-Za-z0-9_-]{43}">/);
    });
  }, APP_TEST_TIMEOUT_MS);

  it('serves the mailbox to no client but this machine itself without NODE_ENV=development', async () => {
    await withTestApp({ env: { NODE_ENV: 'test' } }, async (t) => {
      // In process (no socket) is not this machine's loopback: the same 404 as a server without a mailbox.
      expect((await t.app.yoga.fetch('http://localhost/dev/mailbox')).status).toBe(404);
    });
  }, APP_TEST_TIMEOUT_MS);

  it('refuses to start in production unless MAIL=disabled', () => {
    const production = { NODE_ENV: 'production', KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY };
    expect(() => loadConfig(production)).toThrow(/SMTP_URL: is required in production/);
    expect(loadConfig({ ...production, MAIL: 'disabled' }).mail.enabled).toBe(false);
  }, APP_TEST_TIMEOUT_MS);

  it('answers SERVICE_UNAVAILABLE to the mail mutations with MAIL=disabled, and has no mailbox', async () => {
    await withTestApp({ env: { NODE_ENV: 'production', MAIL: 'disabled' } }, async (t) => {
      expect(codes(await t.gql(REQUEST_RESET, { email: uniqueEmail() }))).toEqual(['SERVICE_UNAVAILABLE']);
      expect((await t.app.yoga.fetch('http://localhost/dev/mailbox')).status).toBe(404);
    });
  }, APP_TEST_TIMEOUT_MS);
});
