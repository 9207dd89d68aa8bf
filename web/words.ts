/** What the page says to people: user agents, revocation reasons and times in words. */

const BROWSERS: readonly [RegExp, string][] = [
  [/Edg(?:e|A|iOS)?\/(\d+)/, 'Edge'],
  [/OPR\/(\d+)/, 'Opera'],
  [/SamsungBrowser\/(\d+)/, 'Samsung Internet'],
  [/Firefox\/(\d+)/, 'Firefox'],
  [/FxiOS\/(\d+)/, 'Firefox'],
  [/CriOS\/(\d+)/, 'Chrome'],
  [/HeadlessChrome\/(\d+)/, 'Headless Chrome'],
  [/Chromium\/(\d+)/, 'Chromium'],
  [/Chrome\/(\d+)/, 'Chrome'],
  [/Version\/(\d+)[\d.]* .*Safari\//, 'Safari'],
];

const SYSTEMS: readonly [RegExp, string][] = [
  [/iPhone|iPad|iPod/, 'iOS'],
  [/Android/, 'Android'],
  [/CrOS/, 'ChromeOS'],
  [/Windows/, 'Windows'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/Linux/, 'Linux'],
];

/** "Chrome 131 on Windows", "Firefox 133 on Linux", "curl 8.5.0", or "Unknown browser". */
export function userAgentInWords(userAgent: string | null): string {
  if (!userAgent) return 'Unknown browser';
  const system = SYSTEMS.find(([pattern]) => pattern.test(userAgent))?.[1];
  for (const [pattern, name] of BROWSERS) {
    const match = pattern.exec(userAgent);
    if (match) return `${name} ${match[1]}${system ? ` on ${system}` : ''}`;
  }
  // Not a browser (an app, curl): its first product token, "curl/8.5.0" as "curl 8.5.0".
  const product = /^([A-Za-z][\w.-]*)\/([\w.]+)/.exec(userAgent);
  if (product) return `${product[1]} ${product[2]}${system ? ` on ${system}` : ''}`;
  return system ? `Unknown browser on ${system}` : 'Unknown browser';
}

/** A default device name for the sign-in form: "Chrome on Linux". */
export function guessDeviceName(userAgent: string): string {
  return userAgentInWords(userAgent).replace(/ \d+/, '');
}

const REASONS: Readonly<Record<string, string>> = {
  LOGOUT: 'You logged out (in another tab or window).',
  REVOKED_BY_USER: 'This device was signed out from another of your devices.',
  OTHER_SESSIONS_REVOKED: 'This device was signed out when you logged out your other devices.',
  REFRESH_TOKEN_REUSE:
    'You were signed out because this session’s refresh token was used twice, which can mean it was stolen. Sign in again.',
  PASSWORD_CHANGED: 'You were signed out because your password was changed.',
  PASSWORD_RESET: 'You were signed out because your password was reset.',
  EMAIL_CHANGED: 'You were signed out because your account’s email address was changed.',
  ACCOUNT_DELETED: 'Your account was deleted.',
  SESSION_LIMIT: 'You were signed out because you signed in on too many devices.',
  EXPIRED: 'Your session expired. Sign in again.',
  ADMIN: 'An administrator signed you out.',
};

export function revocationReasonInWords(reason: string | null): string {
  return (reason && REASONS[reason]) || 'Your session has ended. Sign in again.';
}

const ERRORS: Readonly<Record<string, string>> = {
  INVALID_CREDENTIALS: 'The email or password is incorrect.',
  EMAIL_TAKEN: 'An account with this email already exists. Log in instead.',
  RATE_LIMITED: 'Too many attempts. Wait a while and try again.',
  INVALID_EMAIL_TOKEN:
    'This link does not work any more: it has expired, was already used, or a newer one replaced it. Ask for a new one.',
  INVALID_SIGN_IN_CODE: 'This code is wrong or has expired. Check it, or ask for a new one.',
  EMAIL_NOT_VERIFIED: 'Verify your email address first: open the link we sent you (a new one is on its way).',
  SERVICE_UNAVAILABLE: 'The service is temporarily unavailable. Try again in a moment.',
  PASSKEY_REJECTED: 'That passkey was not accepted. Try another, or sign in with your password.',
  CHALLENGE_EXPIRED: 'That took too long. Try again.',
  PASSKEY_CANCELLED: 'No passkey was used.',
  INVALID_MFA_CODE: 'That code is not right. Check your authenticator app and try again.',
  INVALID_MFA_TOKEN: 'The sign-in took too long. Enter your email and password again.',
};

export function errorInWords(code: string | undefined, message: string): string {
  return (code && ERRORS[code]) || message;
}

const UNITS: readonly [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

/** "just now", "5 minutes ago", "yesterday". */
export function timeAgoInWords(date: Date, now: Date = new Date()): string {
  const seconds = Math.round((now.getTime() - date.getTime()) / 1000);
  if (seconds < 60) return 'just now';
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  for (const [unit, size] of UNITS) {
    if (seconds >= size) return format.format(-Math.floor(seconds / size), unit);
  }
  return 'just now';
}
