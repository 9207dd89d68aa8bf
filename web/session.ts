import { documents, graphql, GraphQLFailure, type AuthPayload, type Credentials } from './api.js';

/**
 * The signed-in state of this tab. The access token lives only here, in memory; the refresh token
 * only in the HttpOnly cookie, which every tab of the origin shares. Refreshing spends that cookie,
 * so two tabs refreshing at once would present the same token twice: one refresh at a time across
 * all tabs (Web Locks), each using whatever cookie the previous one left.
 */

export type SignedIn = { readonly email: string; readonly sessionId: string };

export type SessionState =
  | { readonly kind: 'signed-in'; readonly user: SignedIn; /** False on sign-in, true after a refresh. */ readonly renewed: boolean }
  | { readonly kind: 'signed-out'; readonly reason: string | null };

const REFRESH_LOCK = 'tidepass-refresh';
/** Refresh a minute before the access token expires, or with a quarter of its lifetime left if that is shorter. */
const REFRESH_MARGIN_MS = 60_000;
const REFRESH_MARGIN_SHARE = 0.25;

interface Held {
  accessToken: string;
  /** Local time (ms) at which to refresh: from the token's own lifetime, so a skewed clock does not matter. */
  refreshAt: number;
  user: SignedIn;
}

export class SessionKeeper {
  #held: Held | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #refreshing: Promise<void> | null = null;
  /** Bumped by end(): a refresh answered after the tab signed out must not sign it back in. */
  #generation = 0;
  readonly #listeners = new Set<(state: SessionState) => void>();

  get user(): SignedIn | null {
    return this.#held?.user ?? null;
  }

  onChange(listener: (state: SessionState) => void): void {
    this.#listeners.add(listener);
  }

  /** After a (re)load: a silent refresh from the cookie, if there is one. False when signed out. */
  async resume(): Promise<boolean> {
    try {
      await this.refresh();
      return true;
    } catch (error) {
      if (!(error instanceof GraphQLFailure) || !isSessionOver(error.code)) throw error;
      return false;
    }
  }

  async signUp(credentials: Credentials): Promise<void> {
    const data = await graphql<{ signUp: AuthPayload }>(documents.signUp, { ...credentials });
    this.#hold(data.signUp);
  }

  async logIn(credentials: Credentials): Promise<void> {
    const data = await graphql<{ login: AuthPayload }>(documents.login, { ...credentials });
    this.#hold(data.login);
  }

  /** With the one-time code mailed to the address (requestSignInCode): a sign-in like logIn's. */
  async signInWithCode(input: { email: string; code: string; deviceName: string }): Promise<void> {
    const data = await graphql<{ signInWithCode: AuthPayload }>(documents.signInWithCode, { ...input });
    this.#hold(data.signInWithCode);
  }

  /** Signed in by other means than a password (a passkey): hold the session its payload starts. */
  adopt(payload: AuthPayload): void {
    this.#hold(payload);
  }

  /** The second step after MFA_REQUIRED: the first step asked for the cookie, so the session gets it. */
  async completeLogin(mfaToken: string, code: string): Promise<void> {
    const data = await graphql<{ completeLogin: AuthPayload }>(documents.completeLogin, { mfaToken, code });
    this.#hold(data.completeLogin);
  }

  /** A fresh proof in this session (step-up): new tokens, the refresh token's successor in the cookie. */
  async reauthenticate(password: string, code: string | null): Promise<void> {
    const data = await graphql<{ reauthenticate: AuthPayload }>(documents.reauthenticate, { password, code }, await this.accessToken());
    this.#hold(data.reauthenticate);
  }

  /** An access token good for a while yet, refreshing first when it is due. */
  async accessToken(): Promise<string> {
    if (!this.#held) throw new GraphQLFailure('UNAUTHENTICATED', 'Not signed in.');
    if (Date.now() >= this.#held.refreshAt) await this.refresh();
    if (!this.#held) throw new GraphQLFailure('UNAUTHENTICATED', 'Not signed in.');
    return this.#held.accessToken;
  }

  /** An authenticated call; an access token refused as expired is refreshed and the call tried once more. */
  async call<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    try {
      return await graphql<T>(query, variables, await this.accessToken());
    } catch (error) {
      if (!(error instanceof GraphQLFailure)) throw error;
      if (error.code === 'TOKEN_EXPIRED') {
        await this.refresh();
        return graphql<T>(query, variables, await this.accessToken());
      }
      if (error.code === 'SESSION_REVOKED') this.end(sessionEndedInWords);
      throw error;
    }
  }

  /** One refresh per tab at a time, and one per origin at a time through the lock. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refreshUnderLock().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async logOut(): Promise<void> {
    try {
      // The access token names the session; the cookie goes too, and the server expires it.
      await graphql<{ logout: boolean }>(documents.logout, {}, this.#held?.accessToken);
    } finally {
      this.end('You logged out.');
    }
  }

  /** This tab is signed out, with the reason to show (null: none worth saying). */
  end(reason: string | null): void {
    const wasSignedIn = this.#held !== null;
    this.#generation++;
    this.#held = null;
    clearTimeout(this.#timer);
    if (wasSignedIn || reason) this.#emit({ kind: 'signed-out', reason });
  }

  async #refreshUnderLock(): Promise<void> {
    const run = () => this.#refreshOnce();
    // Web Locks are in every current browser; without them (old browsers) tabs may race, which the
    // server's grace window for the immediate predecessor absorbs (REFRESH_TOKEN_ROTATED, retried).
    if (navigator.locks) await navigator.locks.request(REFRESH_LOCK, run);
    else await run();
  }

  async #refreshOnce(): Promise<void> {
    const generation = this.#generation;
    const holdIfStillWanted = (payload: AuthPayload) => {
      if (generation === this.#generation) this.#hold(payload);
    };
    try {
      const data = await graphql<{ refresh: AuthPayload }>(documents.refresh);
      holdIfStillWanted(data.refresh);
    } catch (error) {
      if (error instanceof GraphQLFailure && error.code === 'REFRESH_TOKEN_ROTATED') {
        // Another client of this cookie jar rotated it a moment ago without the lock: its successor
        // is in the jar by now, so one more try spends that.
        await new Promise((resolve) => setTimeout(resolve, 250));
        const data = await graphql<{ refresh: AuthPayload }>(documents.refresh);
        holdIfStillWanted(data.refresh);
        return;
      }
      if (error instanceof GraphQLFailure && isSessionOver(error.code) && this.#held) {
        this.end(error.code === 'REFRESH_TOKEN_REUSED' ? reusedInWords : sessionEndedInWords);
      }
      throw error;
    }
  }

  #hold(payload: AuthPayload): void {
    const lifetime = tokenLifetimeMs(payload.accessToken, payload.accessTokenExpiresAt);
    const wait = Math.max(1_000, lifetime - Math.min(lifetime * REFRESH_MARGIN_SHARE, REFRESH_MARGIN_MS));
    const first = this.#held === null;
    this.#held = {
      accessToken: payload.accessToken,
      refreshAt: Date.now() + wait,
      user: { email: payload.user.email, sessionId: payload.session.id },
    };
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.refresh().catch(() => {
        // Signed out (reported through end()), or the network is down: accessToken() retries on next use.
      });
    }, wait);
    this.#emit({ kind: 'signed-in', user: this.#held.user, renewed: !first });
  }

  #emit(state: SessionState): void {
    for (const listener of this.#listeners) listener(state);
  }
}

const sessionEndedInWords = 'Your session has ended. Sign in again.';
const reusedInWords =
  'You were signed out because this session’s refresh token was used twice, which can mean it was stolen. Sign in again.';

/** Refusals after which only signing in again helps. */
function isSessionOver(code: string | undefined): boolean {
  return code === 'INVALID_REFRESH_TOKEN' || code === 'REFRESH_TOKEN_REUSED' || code === 'SESSION_REVOKED';
}

/** exp - iat of the JWT (both the server's clock), else the time to accessTokenExpiresAt by ours. */
function tokenLifetimeMs(token: string, expiresAt: string): number {
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as {
      iat: number;
      exp: number;
    };
    if (payload.exp > payload.iat) return (payload.exp - payload.iat) * 1000;
  } catch {
    // fall through
  }
  return Math.max(0, new Date(expiresAt).getTime() - Date.now());
}
