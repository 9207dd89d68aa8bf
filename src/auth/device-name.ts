import { badInput } from '../errors.js';
import { isWellFormed } from './users.js';

const DEVICE_NAME_MAX_LENGTH = 100;
/** Control characters (NUL, newlines, escapes) have no place in a name shown in a device list or a log. */
const CONTROL_CHARACTER = /\p{Cc}/u;

/** The name a client gives its session, trimmed; null when none. */
export function checkDeviceName(raw: string | null | undefined): string | null {
  // Refused unread past four times the limit: neither trimmed nor spread into code points.
  if (raw && raw.length > DEVICE_NAME_MAX_LENGTH * 4) throw tooLong();
  if (raw && (CONTROL_CHARACTER.test(raw) || !isWellFormed(raw))) {
    throw badInput('deviceName', 'The device name must be text without control characters.');
  }
  const deviceName = raw?.trim() || null;
  if (deviceName && [...deviceName].length > DEVICE_NAME_MAX_LENGTH) throw tooLong();
  return deviceName;
}

function tooLong() {
  return badInput('deviceName', `The device name must be at most ${DEVICE_NAME_MAX_LENGTH} characters long.`);
}
