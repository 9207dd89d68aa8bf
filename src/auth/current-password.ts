import type { Clock } from '../clock.js';
import { recordAuthEvent } from '../db/auth-events.js';
import type { Database } from '../db/client.js';
import { AuthError } from '../errors.js';
import type { Viewer } from './authentication.js';
import { verifyPassword } from './passwords.js';
import type { ClientInfo } from './sessions.js';
import type { Throttle } from './throttle.js';
import { findCredentialsById, normalisePresentedPassword, type Credentials } from './users.js';

/**
 * The signed-in caller's current password, checked before an act that takes over or ends the
 * account (email change, deletion): throttled like a login of the account, and a wrong one is a
 * failed sign-in in the audit log (LOGIN_FAILED, INVALID_CREDENTIALS). Returns the credentials it
 * checked, whose passwordVersion the act should hold to.
 */
export async function checkCurrentPassword(
  deps: { db: Database; clock: Clock; throttle: Throttle },
  viewer: Viewer,
  rawPassword: string,
  client: ClientInfo,
): Promise<Credentials> {
  const password = normalisePresentedPassword(rawPassword, 'currentPassword');
  const user = await findCredentialsById(deps.db, viewer.userId);
  if (!user) throw new AuthError('SESSION_REVOKED');
  const attempt = await deps.throttle.beginPasswordCheck({ email: user.email, ip: client.ip });
  let valid: boolean;
  try {
    valid = await verifyPassword(user.passwordHash, password);
  } catch (error) {
    // Never judged: no failed attempt to count.
    await attempt.abandoned().catch(() => {});
    throw error;
  }
  if (!valid) {
    const at = deps.clock();
    await recordAuthEvent(deps.db, { type: 'LOGIN_FAILED', userId: user.id, sessionId: viewer.sessionId, client, at });
    throw new AuthError('INVALID_CREDENTIALS');
  }
  await attempt.succeeded();
  return user;
}
