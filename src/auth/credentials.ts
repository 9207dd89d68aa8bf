import type { Clock } from '../clock.js';
import { recordAuthEvent } from '../db/auth-events.js';
import type { Database } from '../db/client.js';
import { AuthError } from '../errors.js';
import type { Viewer } from './authentication.js';
import { checkDeviceName } from './device-name.js';
import type { IssuedTokens, TokenIssuer } from './issued-tokens.js';
import { DummyPasswordHash, hashPassword, needsRehash, verifyPassword } from './passwords.js';
import type { DeliveryChoice } from './second-factors/mfa-tokens.js';
import type { SignInGate } from './second-factors/sign-in-gate.js';
import type { StepUp } from './second-factors/step-up.js';
import type { ClientInfo, SessionLifecycle } from './sessions.js';
import type { Throttle } from './throttle.js';
import {
  findCredentials,
  findCredentialsById,
  insertUser,
  normaliseEmail,
  normaliseNewPassword,
  normalisePresentedPassword,
  rehashPassword,
  updatePasswordHash,
  type User,
} from './users.js';

export interface EmailAndPassword {
  readonly email: string;
  readonly password: string;
  readonly deviceName?: string | null | undefined;
  /** How the client wants its refresh token: bound to the mfaToken when a second step is needed. */
  readonly delivery?: DeliveryChoice | null | undefined;
}

/** Sign-up, login and password change: the use cases that check or set a password. */
export class CredentialUseCases {
  readonly #dummyHash = new DummyPasswordHash();

  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      sessions: SessionLifecycle;
      tokens: TokenIssuer;
      throttle: Throttle;
      gate: SignInGate;
      stepUp: StepUp;
    },
  ) {}

  async signUp(input: EmailAndPassword, client: ClientInfo): Promise<IssuedTokens> {
    const deviceName = checkDeviceName(input.deviceName);
    const email = normaliseEmail(input.email);
    const password = await normaliseNewPassword(input.password);
    await this.deps.throttle.signUp(client.ip);
    const passwordHash = await hashPassword(password);
    // The account and its first session commit together: a failure in between leaves no account
    // that the caller cannot log in to yet cannot sign up again (EMAIL_TAKEN).
    const created: { user?: User } = {};
    const userId = crypto.randomUUID();
    const { session, refreshToken } = await this.deps.sessions.create({
      userId,
      deviceName,
      client,
      cause: 'SIGNED_UP',
      passwordVersion: null,
      alsoIn: async (tx) => {
        const user = await insertUser(tx, this.deps.clock, { id: userId, email, passwordHash });
        if (!user) throw new AuthError('EMAIL_TAKEN');
        created.user = user;
      },
    });
    return this.deps.tokens.issue(created.user!, session, refreshToken);
  }

  async login(input: EmailAndPassword, client: ClientInfo): Promise<IssuedTokens> {
    const deviceName = checkDeviceName(input.deviceName);
    const password = normalisePresentedPassword(input.password);
    const email = normaliseEmail(input.email);
    const attempt = await this.deps.throttle.beginPasswordCheck({ email, ip: client.ip });
    /** How far the attempt got: only a judged wrong password may keep its throttle point. */
    let judged: 'not yet' | 'wrong' | 'right and recorded' = 'not yet';
    try {
      const user = await findCredentials(this.deps.db, email);
      // Verify against a dummy hash when there is no such user, so both failures take the same time.
      const valid = await verifyPassword(user?.passwordHash ?? (await this.#dummyHash.get()), password);
      if (!user || !valid) {
        judged = 'wrong';
        await recordAuthEvent(this.deps.db, { type: 'LOGIN_FAILED', userId: user?.id ?? null, client, at: this.deps.clock() });
        throw new AuthError('INVALID_CREDENTIALS');
      }
      await attempt.succeeded();
      judged = 'right and recorded';
      if (needsRehash(user.passwordHash)) {
        const passwordHash = await hashPassword(password);
        await rehashPassword(this.deps.db, { userId: user.id, checkedHash: user.passwordHash, passwordHash });
      }
      // Only while the password checked is still the user's: a change that committed meanwhile wins.
      return await this.deps.gate.signIn({
        user,
        factor: 'pwd',
        deviceName,
        delivery: input.delivery ?? 'BODY',
        passwordVersion: user.passwordVersion,
        client,
      });
    } catch (error) {
      // The database failed before the password was judged, or before a right one was recorded: an
      // outage is no failed attempt, and must not lock the account out once the database is back.
      if (judged === 'not yet') await attempt.abandoned().catch(() => {});
      throw error;
    }
  }

  /**
   * For a user with a second factor, a recent proof first (step-up). Checks the current password (throttled like login), stores the new one, ends every other session
   * of the user (PASSWORD_CHANGED) and rotates the caller's: its refresh token is spent, a successor issued.
   */
  async changePassword(
    viewer: Viewer,
    input: { currentPassword: string; newPassword: string },
    client: ClientInfo,
  ): Promise<IssuedTokens> {
    await this.deps.stepUp.requireRecentIfProtected(viewer);
    const current = normalisePresentedPassword(input.currentPassword, 'currentPassword');
    const next = await normaliseNewPassword(input.newPassword, 'newPassword');
    const user = await findCredentialsById(this.deps.db, viewer.userId);
    if (!user) throw new AuthError('SESSION_REVOKED');
    const attempt = await this.deps.throttle.beginPasswordCheck({ email: user.email, ip: client.ip });
    const event = { userId: user.id, sessionId: viewer.sessionId, client };
    if (!(await verifyPassword(user.passwordHash, current))) {
      // A wrong current password is a failed sign-in as much as one at login: the owner should see it.
      await recordAuthEvent(this.deps.db, { type: 'LOGIN_FAILED', ...event, at: this.deps.clock() });
      throw new AuthError('INVALID_CREDENTIALS');
    }
    await attempt.succeeded();
    const passwordHash = await hashPassword(next);
    const restarted = await this.deps.sessions.restartAfterPasswordChange({
      userId: user.id,
      sessionId: viewer.sessionId,
      alsoIn: async (tx) => {
        // Under the user's row lock: a change that committed since the current password was checked wins.
        const changed = await updatePasswordHash(tx, {
          userId: user.id,
          passwordHash,
          checkedVersion: user.passwordVersion,
        });
        if (!changed) throw new AuthError('INVALID_CREDENTIALS');
        await recordAuthEvent(tx, { type: 'PASSWORD_CHANGED', ...event, at: this.deps.clock() });
      },
    });
    // The caller's session ended meanwhile: nothing was changed.
    if (restarted.kind === 'session-ended') throw new AuthError('SESSION_REVOKED');
    return this.deps.tokens.issue(user, restarted.session, restarted.refreshToken);
  }
}
