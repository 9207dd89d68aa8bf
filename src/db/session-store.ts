import DataLoader from 'dataloader';
import { and, desc, eq } from 'drizzle-orm';
import type { RevocationBus, RevocationReason, SessionRevoked } from '../events/revocation-bus.js';
import { recordAuthEvent, type AuditedClient } from './auth-events.js';
import { rawQuery, type Database, type RawQuery, type Transaction } from './client.js';
import { isDeadlock } from './errors.js';
import { liveAt, type LiveWindow } from './live-window.js';
import { sessionFromRawRow, type RawSessionRow } from './raw-rows.js';
import {
  findRefreshToken,
  findRefreshTokenWithSession,
  insertRefreshToken,
  spendLiveTokensOfSession,
} from './refresh-tokens.js';
import { rotateInOneStatement, type Rotated, type RotationRequest } from './rotation.js';
import { sessions, users } from './schema.js';
import { lockUsers, SessionEnds, type SessionSelection } from './session-ends.js';

import { insertSession, type NewSession, type SessionRecord } from './session-insert.js';

export type { NewSession, SessionRecord };
export type { Rotated, RotationRequest, SessionSelection };

/** A session started, or why not (nothing written). */
export type CreatedSession =
  | { readonly kind: 'created'; readonly session: SessionRecord }
  /** The password was changed after the login checked it. */
  | { readonly kind: 'password-changed' }
  /** An admin disabled the user (users.disabled_at). */
  | { readonly kind: 'disabled' };

/** Bounds one rotation statement (five array elements per rotation). */
const ROTATIONS_PER_STATEMENT = 100;
const CREATE_SESSION_WITHIN_LIMIT = `select * from create_session_within_limit($1::uuid, $2::uuid, $3::text, $4::text,
  $5::text, $6::timestamptz, $7::timestamptz, $8::timestamptz, $9::integer, $10::uuid, $11::text, $12::text, $13::integer,
  $14::text[])`;

/**
 * Sessions and their refresh tokens in the database: every statement, the lock order (lockUsers)
 * and the batching. What to write is decided by the caller; `window` says which sessions are live.
 */
export class SessionStore {
  readonly #query: RawQuery;
  readonly #ends: SessionEnds;
  /** The refreshes of one turn of the event loop, rotated by one statement; nothing cached between turns. */
  readonly #rotations: DataLoader<RotationRequest, Rotated | null>;

  constructor(private readonly deps: { db: Database; bus: RevocationBus; window: () => LiveWindow }) {
    this.#query = rawQuery(deps.db);
    this.#ends = new SessionEnds(deps);
    this.#rotations = new DataLoader(
      async (requests) => {
        const rotate = () => rotateInOneStatement(this.#query, this.deps.window(), requests);
        try {
          return await rotate();
        } catch (error) {
          // Sessions are locked in id order, a revocation locks its user's in the order it finds them:
          // PostgreSQL may pick this statement as the victim of a deadlock. Nothing was written; again, once.
          if (isDeadlock(error)) return rotate();
          throw error;
        }
      },
      { cache: false, batchScheduleFn: (run) => setImmediate(run), maxBatchSize: ROTATIONS_PER_STATEMENT },
    );
  }

  /**
   * Inserts the session, its first token and its audit event, and ends those beyond the limit. Nothing
   * is written when the password was changed after the login checked it, or the user is disabled.
   */
  async create(session: NewSession, window: LiveWindow): Promise<CreatedSession> {
    if (!session.alsoIn) {
      // One call, one round trip (drizzle/0007_create_session_within_limit.sql), with the same lock
      // on the user's row. Only at the limit, where sessions must end (and be announced in the same
      // transaction), does it write nothing and leave the work to the transaction below.
      const [row] = await this.#query<RawSessionRow>(CREATE_SESSION_WITHIN_LIMIT, [
        crypto.randomUUID(),
        session.userId,
        session.deviceName,
        session.userAgent,
        session.ip,
        window.now.toISOString(),
        session.expiresAt.toISOString(),
        window.idleHorizon.toISOString(),
        session.maxLive,
        crypto.randomUUID(),
        session.tokenHash,
        session.cause,
        session.passwordVersion,
        [...session.authenticationMethods],
      ]);
      if (row) return { kind: 'created', session: sessionFromRawRow(row) };
    }
    return this.#ends.revokingTransaction(async (tx, record) => {
      await session.alsoIn?.(tx);
      // Concurrent logins of one user queue here, so each counts the others' sessions and the limit
      // holds (READ COMMITTED: the next statement sees what the previous holder committed).
      await lockUsers(tx, [session.userId]);
      const user = await signInState(tx, session.userId);
      // Disabled first: a disabled user's password may well have changed too, and "disabled" is the truth.
      if (user?.disabledAt) return { kind: 'disabled' } as const;
      if (session.passwordVersion !== null && user?.passwordVersion !== session.passwordVersion) {
        return { kind: 'password-changed' } as const;
      }
      const row = await insertSession(tx, session, window);
      await record(await this.#ends.endIn(tx, { userId: session.userId, sessionIds: row.beyondLimit }, 'SESSION_LIMIT'));
      return { kind: 'created', session: row.session } as const;
    });
  }

  /** Spends the token and issues its successor (one statement for the refreshes of one turn); null if refused. */
  rotate(request: RotationRequest): Promise<Rotated | null> {
    return this.#rotations.load(request);
  }

  /**
   * In one transaction: touches the live session, runs `alsoIn`, ends the user's other sessions
   * (PASSWORD_CHANGED), spends the session's live token and inserts its successor. Null (and nothing
   * written) when the session is no longer live.
   */
  async restart(
    input: { userId: string; sessionId: string; successorHash: string; alsoIn: (tx: Transaction) => Promise<void> },
    window: LiveWindow,
  ): Promise<SessionRecord | null> {
    return this.#ends.revokingTransaction(async (tx, record) => {
      // The user's row and sessions first, like every transaction that ends a user's sessions: two
      // password changes from two devices would otherwise each lock its own session, then wait for the other's.
      await lockUsers(tx, [input.userId]);
      // Locks the session's row: a concurrent logout waits for this transaction, or this one for it.
      const [current] = await tx
        .update(sessions)
        .set({ lastUsedAt: window.now })
        .where(and(eq(sessions.id, input.sessionId), eq(sessions.userId, input.userId), ...liveAt(window)))
        .returning();
      if (!current) return null;
      await input.alsoIn(tx);
      await record(await this.#ends.endIn(tx, { userId: input.userId, exceptSessionId: current.id }, 'PASSWORD_CHANGED'));
      const [spentId] = await spendLiveTokensOfSession(tx, current.id, window.now);
      await insertRefreshToken(tx, {
        sessionId: current.id,
        parentId: spentId ?? null,
        tokenHash: input.successorHash,
        createdAt: window.now,
      });
      return current;
    });
  }

  /**
   * In one transaction: `alsoIn` (which names the user, or its sessions but one to keep; or refuses by
   * throwing: nothing is written), then every live session of that user (but the kept) ended and announced.
   */
  async endAllAlong(
    reason: RevocationReason,
    alsoIn: (tx: Transaction) => Promise<string | { userId: string; keepSessionId?: string }>,
    client?: AuditedClient,
  ): Promise<SessionRevoked[]> {
    return this.#ends.revokingTransaction(async (tx, record) => {
      const named = await alsoIn(tx);
      const selection = typeof named === 'string' ? { userId: named } : named;
      await lockUsers(tx, [selection.userId]);
      return record(await this.#ends.endIn(tx, selection, reason), client);
    });
  }

  /**
   * In one transaction: the user's row and sessions locked, every live session ended with `reason`
   * and announced, then `then` (given what ended; it may delete the user, or refuse by throwing:
   * then nothing is written and nothing announced).
   */
  async endAllThen<T>(
    input: { userId: string; reason: RevocationReason; client?: AuditedClient | undefined },
    then: (tx: Transaction, ended: readonly SessionRevoked[]) => Promise<T>,
  ): Promise<T> {
    return this.#ends.revokingTransaction(async (tx, record) => {
      await lockUsers(tx, [input.userId]);
      const ended = await record(await this.#ends.endIn(tx, { userId: input.userId }, input.reason), input.client);
      return then(tx, ended);
    });
  }

  /** Ends the selected live sessions and tells every instance; requests that come together commit together. */
  end(selection: SessionSelection, reason: RevocationReason, client?: AuditedClient): Promise<SessionRevoked[]> {
    return this.#ends.end(selection, reason, client);
  }

  /**
   * Ends a session whose spent token came back (REFRESH_TOKEN_REUSE), its REFRESH_TOKEN_REUSED event in
   * the same transaction: the log never tells of a theft answered by an end that did not commit.
   * False (and nothing written) when the session was no longer live.
   */
  async endForReuse(session: { userId: string; sessionId: string }, client: AuditedClient, at: Date): Promise<boolean> {
    return this.#ends.revokingTransaction(async (tx, record) => {
      await lockUsers(tx, [session.userId]);
      const ended = await this.#ends.endIn(tx, { userId: session.userId, sessionIds: [session.sessionId] }, 'REFRESH_TOKEN_REUSE');
      if (ended.length === 0) return false;
      await recordAuthEvent(tx, { type: 'REFRESH_TOKEN_REUSED', ...session, client, at });
      await record(ended, client);
      return true;
    });
  }

  /** Ends sessions past their idle or absolute end (EXPIRED); one instance at a time. */
  endExpired(): Promise<SessionRevoked[]> {
    return this.#ends.endExpired();
  }

  async findSession(sessionId: string): Promise<SessionRecord | null> {
    const [session] = await this.deps.db.select().from(sessions).where(eq(sessions.id, sessionId));
    return session ?? null;
  }

  /** The session a refresh token (spent or not) belongs to. */
  async findSessionOfToken(tokenHash: string): Promise<SessionRecord | null> {
    const found = await findRefreshToken(this.deps.db, tokenHash);
    return found ? this.findSession(found.sessionId) : null;
  }

  findTokenWithSession(tokenHash: string) {
    return findRefreshTokenWithSession(this.deps.db, tokenHash);
  }

  /** The user's live sessions, most recently used first. */
  listLive(userId: string, window: LiveWindow): Promise<SessionRecord[]> {
    return this.deps.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, userId), ...liveAt(window)))
      .orderBy(desc(sessions.lastUsedAt), desc(sessions.createdAt));
  }
}

/** What decides whether the user may start a session (read under the user's row lock). */
async function signInState(tx: Transaction, userId: string) {
  const [user] = await tx
    .select({ passwordVersion: users.passwordVersion, disabledAt: users.disabledAt })
    .from(users)
    .where(eq(users.id, userId));
  return user ?? null;
}
