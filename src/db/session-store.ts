import DataLoader from 'dataloader';
import { and, desc, eq, sql } from 'drizzle-orm';
import type { RevocationBus, RevocationReason, SessionRevoked } from '../events/revocation-bus.js';
import { recordAuthEvent, type AuditedClient } from './auth-events.js';
import { rawQuery, rowsOf, type Database, type RawQuery, type Transaction } from './client.js';
import { isDeadlock } from './errors.js';
import { liveAt, type LiveWindow } from './live-window.js';
import { sessionFromRawRow, textArray, type RawSessionRow } from './raw-rows.js';
import {
  findRefreshToken,
  findRefreshTokenWithSession,
  insertRefreshToken,
  spendLiveTokensOfSession,
} from './refresh-tokens.js';
import { rotateInOneStatement, type Rotated, type RotationRequest } from './rotation.js';
import { sessions, users } from './schema.js';
import { lockUsers, SessionEnds, type SessionSelection } from './session-ends.js';

export type SessionRecord = typeof sessions.$inferSelect;
export type { Rotated, RotationRequest, SessionSelection };

/** A session to start, with the hash of the first token of its family. */
export interface NewSession {
  readonly userId: string;
  readonly deviceName: string | null;
  readonly userAgent: string | null;
  readonly ip: string | null;
  readonly expiresAt: Date;
  readonly tokenHash: string;
  /** What the audit log calls it. */
  readonly cause: 'SIGNED_UP' | 'LOGIN_SUCCEEDED';
  /** Live sessions the user may keep; the least recently used beyond them end (SESSION_LIMIT). */
  readonly maxLive: number;
  /**
   * The users.password_version a login checked the password against: the session is created only if
   * it is still the user's under the lock of the user's row. Null when no password was checked.
   */
  readonly passwordVersion: number | null;
  /** RFC 8176 values of how the user proved themselves (pwd, otp, hwk, mfa); auth_time is now. */
  readonly authenticationMethods: readonly string[];
  /** Runs first in the same transaction (sign-up inserts the user there: no account without a session). */
  readonly alsoIn?: (tx: Transaction) => Promise<void>;
}

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
   * Inserts the session, its first token and its audit event, and ends those beyond the limit. Null
   * (nothing written) when the password was changed after the login checked it.
   */
  async create(session: NewSession, window: LiveWindow): Promise<SessionRecord | null> {
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
      if (row) return sessionFromRawRow(row);
    }
    return this.#ends.revokingTransaction(async (tx, record) => {
      await session.alsoIn?.(tx);
      // Concurrent logins of one user queue here, so each counts the others' sessions and the limit
      // holds (READ COMMITTED: the next statement sees what the previous holder committed).
      await lockUsers(tx, [session.userId]);
      if (session.passwordVersion !== null && !(await hasPasswordVersion(tx, session.userId, session.passwordVersion))) {
        return null;
      }
      const row = await insertSession(tx, session, window);
      await record(await this.#ends.endIn(tx, { userId: session.userId, sessionIds: row.beyondLimit }, 'SESSION_LIMIT'));
      return row.session;
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
   * In one transaction: `alsoIn` (which names the user, or refuses by throwing: nothing is written),
   * then every live session of that user ended with `reason` and announced.
   */
  async endAllAlong(
    reason: RevocationReason,
    alsoIn: (tx: Transaction) => Promise<string>,
    client?: AuditedClient,
  ): Promise<SessionRevoked[]> {
    return this.#ends.revokingTransaction(async (tx, record) => {
      const userId = await alsoIn(tx);
      await lockUsers(tx, [userId]);
      return record(await this.#ends.endIn(tx, { userId }, reason), client);
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

/** Whether the user's password is still the one of this version (read under the user's row lock). */
async function hasPasswordVersion(tx: Transaction, userId: string, version: number): Promise<boolean> {
  const [user] = await tx.select({ version: users.passwordVersion }).from(users).where(eq(users.id, userId));
  return user?.version === version;
}

/**
 * The session, the first token of its family, the audit event, and the user's other live sessions
 * beyond the limit, in one statement (each is a round trip plus the CPU to build it). The last read
 * cannot see the session being inserted (one snapshot per statement), hence `offset limit - 1`.
 */
async function insertSession(
  tx: Transaction,
  session: NewSession,
  window: LiveWindow,
): Promise<{ session: SessionRecord; beyondLimit: string[] }> {
  const sessionId = crypto.randomUUID();
  const now = window.now.toISOString();
  const [row] = rowsOf<NewSessionRow>(
    await tx.execute(sql`
      with created as (
        insert into sessions (id, user_id, device_name, user_agent, ip, created_at, last_used_at, expires_at,
          authentication_methods, authenticated_at)
        values (${sessionId}::uuid, ${session.userId}::uuid, ${session.deviceName}, ${session.userAgent}, ${session.ip},
          ${now}::timestamptz, ${now}::timestamptz, ${session.expiresAt.toISOString()}::timestamptz,
          ${pgTextArray(session.authenticationMethods)}::text[], ${now}::timestamptz)
        returning *
      ), issued as (
        insert into refresh_tokens (id, session_id, parent_id, token_hash, created_at)
        select ${crypto.randomUUID()}::uuid, created.id, null, ${session.tokenHash}, ${now}::timestamptz
        from created
        returning id
      ), audited as (
        insert into auth_events (type, user_id, session_id, ip, user_agent, occurred_at)
        select ${session.cause}, created.user_id, created.id, created.ip, created.user_agent, ${now}::timestamptz
        from created
        returning id
      )
      select created.*, array(
        select s.id from sessions s
        where s.user_id = ${session.userId}::uuid and s.id <> ${sessionId}::uuid and s.ended_at is null
          and s.expires_at > ${now}::timestamptz
          and s.last_used_at > ${window.idleHorizon.toISOString()}::timestamptz
        order by s.last_used_at desc, s.created_at desc
        offset ${session.maxLive - 1}
      )::text[] as beyond_limit
      from created join issued on true join audited on true`),
  );
  return { session: sessionFromRawRow(row!), beyondLimit: parsePgArray(row!.beyond_limit) };
}

interface NewSessionRow extends RawSessionRow {
  /** text[]: an array on PGlite, sometimes its literal ("{a,b}") on postgres.js. */
  beyond_limit: string[] | string;
}

/** A text[] of uuids as either driver returns it (uuids hold no commas, quotes or braces). */
const parsePgArray = textArray;

/** A text[] literal of plain words (amr values hold no commas, quotes or braces). */
function pgTextArray(words: readonly string[]): string {
  return `{${words.join(',')}}`;
}
