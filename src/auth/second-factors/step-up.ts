import type { Clock } from '../../clock.js';
import type { Database } from '../../db/client.js';
import { AuthError } from '../../errors.js';
import type { Viewer } from '../authentication.js';
import { factorStateOf, hasSecondFactor } from './methods.js';

/**
 * Step-up: a sensitive change needs a recent proof, the access token's `auth_time` within
 * REAUTH_MAX_AGE, else REAUTHENTICATION_REQUIRED (and the client calls reauthenticate). Read from
 * the token, not the session row: an older token of the session says what it proved when issued.
 */
export class StepUp {
  constructor(private readonly deps: { db: Database; clock: Clock; maxAge: number }) {}

  /** For enrolling or removing a factor and regenerating recovery codes: always. */
  requireRecent(viewer: Viewer): void {
    const authTime = viewer.authTime?.getTime();
    // A token without auth_time (issued before it existed) proves nothing recent.
    if (authTime === undefined || this.deps.clock().getTime() - authTime > this.deps.maxAge * 1000) {
      throw new AuthError('REAUTHENTICATION_REQUIRED');
    }
  }

  /** For changes that a password alone may make on an account without a second factor (password, email, deletion). */
  async requireRecentIfProtected(viewer: Viewer): Promise<void> {
    if (hasSecondFactor(await factorStateOf(this.deps.db, viewer.userId))) this.requireRecent(viewer);
  }
}
