import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { AudienceCheck } from './conveniences.js';
import type { MailboxEntry } from '../mail/mail-delivery.js';
import { escapeHtml } from '../mail/templates.js';

export const DEV_MAILBOX_PATH = '/dev/mailbox';

/**
 * GET /dev/mailbox, outside production without SMTP_URL: the newest mails of the outbox with their
 * links, so that a developer running `npm start` can follow every flow without a mail server.
 */
export function useDevMailbox(
  list: () => Promise<MailboxEntry[]>,
  allowed: AudienceCheck,
): Plugin<Record<string, unknown>, { req?: IncomingMessage }> {
  return {
    onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      if (url.pathname !== DEV_MAILBOX_PATH || request.method !== 'GET') return;
      // Anyone else gets the 404 of a server without a mailbox.
      if (!allowed(request, serverContext?.req)) return;
      return list().then((mails) =>
        endResponse(
          new fetchAPI.Response(render(mails), {
            headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
          }),
        ),
      );
    },
  };
}

function render(mails: readonly MailboxEntry[]): string {
  const items = mails.map((mail) => {
    const links = [...mail.text.matchAll(/https?:\/\/\S+/g)].map(
      ([link]) => `<a href="${escapeHtml(link)}">${escapeHtml(link)}</a>`,
    );
    return `<li><article><h2>${escapeHtml(mail.subject)}</h2><p>To ${escapeHtml(mail.to)}, ${mail.createdAt.toISOString()}</p>
<p>${links.join('<br>')}</p><pre>${escapeHtml(mail.text)}</pre></article></li>`;
  });
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Development mailbox</title></head>
<body><h1>Development mailbox</h1><p>The newest mails (set SMTP_URL to send them for real).</p>
<ol>${items.join('\n') || '<li>No mail yet.</li>'}</ol></body></html>`;
}
