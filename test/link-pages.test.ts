import { describe, expect, it } from 'vitest';
import { useStartedApp } from './helpers/app.js';
import { signUp, uniqueEmail } from './helpers/auth-flows.js';
import { ME_VERIFIED, requestVerification, VERIFY_EMAIL } from './helpers/email-flows.js';
import { codes } from './helpers/gql.js';
import { useSmtpServer } from './helpers/smtp.js';

/**
 * The pages the links in mails open, over yoga.fetch: what a GET answers (and that it spends nothing),
 * with headers that keep the token in the address out of caches, Referer headers and other origins.
 * In Chromium: test/browser-email.test.ts.
 */

const smtp = useSmtpServer();
const t = useStartedApp(() => ({ env: { SMTP_URL: smtp().url } }));
const SERVER = 'http://localhost:4000';
const LINK_PAGES = [
  ['/verify-email', 'Verify email'],
  ['/reset-password', 'Set new password'],
  ['/confirm-email-change', 'Confirm new email'],
] as const;
const TOKEN = 'a'.repeat(43);

const get = (path: string, method = 'GET') =>
  t.app.yoga.fetch(`${SERVER}${path}`, { method, headers: { accept: 'text/html' } });

function policyOf(response: Response): Map<string, string> {
  const header = response.headers.get('content-security-policy') ?? '';
  return new Map(
    header.split(';').map((part) => {
      const [name = '', ...sources] = part.trim().split(/\s+/);
      return [name, sources.join(' ')] as const;
    }),
  );
}

describe('the link pages', () => {
  it.each(LINK_PAGES)('serves %s?token=… with no-store, no-referrer and a CSP allowing only this server', async (path, button) => {
    const response = await get(`${path}?token=${TOKEN}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    const policy = policyOf(response);
    expect(policy.get('default-src')).toBe("'none'");
    expect(policy.get('script-src')).toBe("'self'");
    expect(policy.get('style-src')).toBe("'self'");
    // No WebSocket: the link pages only call the GraphQL endpoint.
    expect(policy.get('connect-src')).toBe("'self'");
    expect(policy.get('form-action')).toBe("'none'");
    expect(policy.get('frame-ancestors')).toBe("'none'");
    const html = await response.text();
    expect(html).toContain('<script type="module" src="/assets/link.js"></script>');
    expect(html).toContain(`>${button}</button>`);
    expect(html).toContain('<meta name="referrer" content="no-referrer">');
    // Static: the token is not written into the page, and nothing comes from another origin.
    expect(html).not.toContain(TOKEN);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script>|<style>| style=| on[a-z]+=/);
    expect((await get(`${path}?token=${TOKEN}`, 'HEAD')).status).toBe(200);
  });

  it('serves their script, which calls the three mutations', async () => {
    const script = await get('/assets/link.js');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const text = await script.text();
    for (const mutation of ['verifyEmail', 'resetPassword', 'confirmEmailChange']) expect(text).toContain(mutation);
  });

  it('spends nothing on a GET: the token of a link opened twice still verifies the address', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    await requestVerification(t.gql, user.accessToken);
    const mail = await smtp().mailTo(email);
    expect(mail.link).toMatch(/^http:\/\/localhost:4000\/verify-email\?token=/);
    const path = mail.link!.slice(SERVER.length);
    for (let i = 0; i < 2; i++) expect((await get(path)).status).toBe(200);
    expect((await t.gql(ME_VERIFIED, {}, { token: user.accessToken })).data).toEqual({ me: { emailVerified: false } });
    expect(codes(await t.gql(VERIFY_EMAIL, { token: mail.token }))).toEqual([]);
    expect((await t.gql(ME_VERIFIED, {}, { token: user.accessToken })).data).toEqual({ me: { emailVerified: true } });
  });
});
