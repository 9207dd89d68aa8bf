import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { AuthError } from '../errors.js';
import { isLastAdmin, lockAdmins } from './admin/roles.js';
import type { Viewer } from './authentication.js';
import { checkCurrentPassword } from './current-password.js';
import type { ClientInfo } from './sessions.js';
import type { Throttle } from './throttle.js';
import type { StepUp } from './second-factors/step-up.js';
import type { UserDeletion } from './user-deletion.js';

/** deleteAccount: the signed-in user deletes the account, proving it with the current password. */
export class AccountDeletion {
  constructor(
    private readonly deps: { db: Database; clock: Clock; throttle: Throttle; userDeletion: UserDeletion; stepUp: StepUp },
  ) {}

  /**
   * Checks the current password (throttled like login), then deletes the account (reason
   * ACCOUNT_DELETED): every session ends, this one too. Nothing is deleted if the caller's session
   * ended or the password changed meanwhile.
   */
  async deleteAccount(viewer: Viewer, input: { currentPassword: string }, client: ClientInfo): Promise<boolean> {
    // With a second factor, a password alone (a stolen one) must not delete the account.
    await this.deps.stepUp.requireRecentIfProtected(viewer);
    const user = await checkCurrentPassword(this.deps, viewer, input.currentPassword, client);
    await this.deps.userDeletion.deleteUser(user.id, {
      reason: 'ACCOUNT_DELETED',
      client,
      asCaller: { sessionId: viewer.sessionId, passwordVersion: user.passwordVersion },
      // The last admin deleting itself would leave nobody to run the admin API (as deleteUser refuses).
      guard: async (tx) => {
        if (isLastAdmin(await lockAdmins(tx), user.id)) {
          throw new AuthError('BAD_USER_INPUT', 'This is the last admin: make another user an admin first.');
        }
      },
    });
    return true;
  }
}
