/**
 * The mails we send. Each says what its link does and when it expires, in a plain-text and an HTML
 * part; none ever holds a password.
 */

export interface ComposedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export interface LinkMail {
  /** The whole link, token included. */
  readonly link: string;
  readonly expiresAt: Date;
}

export function verificationMail({ link, expiresAt }: LinkMail): ComposedMail {
  return linkMail({
    subject: 'Verify your email address',
    intro: 'Open this link to confirm that this address belongs to your account:',
    button: 'Verify email',
    link,
    expiresAt,
    ignore: 'If you did not create an account, you can ignore this mail.',
  });
}

export function passwordResetMail({ link, expiresAt }: LinkMail): ComposedMail {
  return linkMail({
    subject: 'Reset your password',
    intro: 'Open this link to choose a new password. Every device signed in to your account will be signed out.',
    button: 'Set new password',
    link,
    expiresAt,
    ignore: 'If you did not ask for this, you can ignore this mail: your password stays as it is.',
  });
}

export function emailChangeMail({ link, expiresAt }: LinkMail): ComposedMail {
  return linkMail({
    subject: 'Confirm your new email address',
    intro:
      'Open this link to make this the address of your account. Every other device signed in to your account will be signed out.',
    button: 'Confirm new email',
    link,
    expiresAt,
    ignore: 'If you did not ask for this, you can ignore this mail: the address of the account stays as it is.',
  });
}

/** To the old address: what was asked, and no link (whoever asked may have this mailbox too). */
export function emailChangeNoticeMail({ newEmail }: { newEmail: string }): ComposedMail {
  const lines = [
    `Someone signed in to your account asked to change its address to ${newEmail}.`,
    'The change happens only when the link sent to that address is opened; until then, this address stays the account\'s.',
    'If this was not you, change your password now: it is known to whoever asked.',
  ];
  return {
    subject: 'A change of your email address was requested',
    text: [...lines, ''].join('\n'),
    html: lines.map((line) => `<p>${escapeHtml(line)}</p>`).join('\n'),
  };
}

function linkMail(input: {
  subject: string;
  intro: string;
  button: string;
  link: string;
  expiresAt: Date;
  ignore: string;
}): ComposedMail {
  const expires = `The link works once and expires at ${formatTime(input.expiresAt)}.`;
  const text = [input.intro, '', input.link, '', expires, input.ignore, ''].join('\n');
  const html = [
    `<p>${escapeHtml(input.intro)}</p>`,
    `<p><a href="${escapeHtml(input.link)}">${escapeHtml(input.button)}</a></p>`,
    `<p>${escapeHtml(expires)}</p>`,
    `<p>${escapeHtml(input.ignore)}</p>`,
  ].join('\n');
  return { subject: input.subject, text, html };
}

/** UTC, to the minute: the reader's time zone is unknown. */
function formatTime(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
