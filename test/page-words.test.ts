import { describe, expect, it } from 'vitest';
import { revocationReasons } from '../src/events/revocation-bus.js';
import { errorInWords, guessDeviceName, revocationReasonInWords, timeAgoInWords, userAgentInWords } from '../web/words.js';

/** What the devices page says about a session, in words (web/words.ts). */
describe('the devices page in words', () => {
  it.each([
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'Chrome 131 on Windows'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86', 'Edge 131 on Windows'],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 'Firefox 133 on Linux'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15', 'Safari 18 on macOS'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1', 'Safari 18 on iOS'],
    ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36', 'Chrome 131 on Android'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36', 'Headless Chrome 156 on Linux'],
    ['curl/8.5.0', 'curl 8.5.0'],
    ['', 'Unknown browser'],
  ])('says %s as "%s"', (userAgent, words) => {
    expect(userAgentInWords(userAgent || null)).toBe(words);
  });

  it('suggests a device name without version numbers', () => {
    expect(guessDeviceName('Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0')).toBe('Firefox on Linux');
  });

  it('explains every revocation reason of the schema, and an unknown one', () => {
    for (const reason of revocationReasons) {
      expect(revocationReasonInWords(reason)).not.toBe(revocationReasonInWords(null));
    }
    expect(revocationReasonInWords('SOMETHING_NEW')).toBe('Your session has ended. Sign in again.');
  });

  it.each(['INVALID_EMAIL_TOKEN', 'INVALID_SIGN_IN_CODE', 'EMAIL_NOT_VERIFIED', 'RATE_LIMITED', 'EMAIL_TAKEN', 'INVALID_CREDENTIALS'])(
    'says %s in words of its own, not the server\'s message',
    (code) => {
      expect(errorInWords(code, 'the server message')).not.toBe('the server message');
    },
  );

  it('says when a device was last used', () => {
    const now = new Date('2026-01-10T12:00:00Z');
    expect(timeAgoInWords(new Date('2026-01-10T11:59:30Z'), now)).toBe('just now');
    expect(timeAgoInWords(new Date('2026-01-10T11:55:00Z'), now)).toMatch(/5 minutes ago/);
    expect(timeAgoInWords(new Date('2026-01-10T09:00:00Z'), now)).toMatch(/3 hours ago/);
  });
});
