import DataLoader from 'dataloader';
import { and, desc, eq, sql, type SQL } from 'drizzle-orm';
import type { Clock } from '../clock.js';
import { rawQuery, rowsOf, type Database, type Executor, type RawQuery, type Transaction } from '../db/client.js';
import { isDeadlock } from '../db/errors.js';
import { sessionFromRawRow, type RawSessionRow } from '../db/raw-rows.js';
import { sessions } from '../db/schema.js';
import type { RevocationBus, RevocationReason, SessionRevoked } from '../events/revocation-bus.js';
import { recordAuthEvent } from './audit.js';
import {
  findRefreshToken,
  findRefreshTokenWithSession,
  isWellFormedRefreshToken,
  issueRefreshToken,
  spendLiveTokensOfSession,
} from './refresh-tokens.js';
import { randomToken, sha256Hex } from './crypto.js';
import { rotateInOneStatement, type Rotated, type RotationRequest } from './rotation.js';
import { idleHorizon, liveAt, lockUsers, SessionEnds } from './session-ends.js';
import type { User } from './users.js';

export type SessionRecord = typeof sessions.$inferSelect;

/** Durations in seconds. */
export interface SessionPolicy {
  readonly refreshTokenTtl: number;
  readonly sessionIdleTimeout: number;
  readonly refreshReuseGrace: number;
  /** A new session beyond this many live ones ends the least recently used (reason SESSION_LIMIT). */
  readonly maxSessionsPerUser: number;
}

export interface ClientInfo {
  readonly userAgent: string | null;
  readonly ip: string | null;
}

export type RotationResult =
  | { readonly kind: 'rotated'; readonly session: SessionRecord; readonly user: User; readonly refreshToken: string }
  /** Unknown, malformed, or of an ended or expired session. */
  | { readonly kind: 'invalid' }
  /** Spent token presented outside the grace window: theft. The session has been ended. */
  | { readonly kind: 'reused' }
  /** The immediate predecessor of the live token, spent within the grace window: a lost response. */
  | { readonly kind: 'just-rotated' };

/** Which of a user's sessions to end. */
export interface SessionSelection {
  readonly userId: string;
  readonly sessionIds?: readonly string[];
  readonly exceptSessionId?: string;
}

const USER_AGENT_MAX_LENGTH = 512;

/** Bounds one rotation statement (five array elements per rotation). */
const ROTATIONS_PER_STATEMENT = 100;
const CREATE_SESSION_WITHIN_LIMIT = `select * from create_session_within_limit($1::uuid, $2::uuid, $3::text, $4::text,
  $5::text, $6::timestamptz, $7::timestamptz, $8::timestamptz, $9::integer, $10::uuid, $11::text, $12::text)`;

export class SessionService {
  readonly #query: RawQuery;
  /**
   * The refreshes that arrive in one turn of the event loop are rotated by one statement (see
   * rotation.ts): a statement's fixed costs (the round trip, PostgreSQL's executor and commit, the
   * driver's work) are paid once for all of them. Nothing is cached between turns.
   */
  readonly #rotations: DataLoader<RotationRequest, Rotated | null>;

  readonly #ends: SessionEnds;

  constructor(
    private readonly deps: { db: Database; bus: RevocationBus; clock: Clock; policy: SessionPolicy },
  ) {
    this.#query = rawQuery(deps.db);
    this.#ends = new SessionEnds(deps);
    this.#rotations = new DataLoader(
      async (requests) => {
        const rotate = () => {
          const now = this.deps.clock();
          return rotateInOneStatement(this.#query, { now, idleHorizon: this.#idleHorizon(now) }, requests);
        };
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

  /** When the session ends unless refreshed: the absolute end or the idle end, whichever is first. */
  endOf(session: Pick<SessionRecord, 'expiresAt' | 'lastUsedAt'>): Date {
    const idleEnd = session.lastUsedAt.getTime() + this.deps.policy.sessionIdleTimeout * 1000;
    return new Date(Math.min(session.expiresAt.getTime(), idleEnd));
  }

  isLive(session: SessionRecord, now: Date): boolean {
    return session.endedAt === null && this.endOf(session).getTime() > now.getTime();
  }

  /**
   * Every login gets a new session id (no fixation) and the first token of a new family. Beyond
   * MAX_SESSIONS_PER_USER live sessions, the least recently used end (reason SESSION_LIMIT).
   */
  async createSession(input: {
    userId: string;
    deviceName: string | null;
    client: ClientInfo;
    /** What the audit log calls it. */
    cause: 'SIGNED_UP' | 'LOGIN_SUCCEEDED';
    /** Runs first in the same transaction (sign-up inserts the user there: no account without a session). */
    alsoIn?: (tx: Transaction) => Promise<void>;
  }): Promise<{ session: SessionRecord; refreshToken: string }> {
    const now = this.deps.clock();
    const refreshToken = randomToken(32);
    const userAgent = truncate(input.client.userAgent);
    if (!input.alsoIn) {
      // A login: one call, one round trip (drizzle/0007_create_session_within_limit.sql), with the
      // same lock on the user's row. Only at the limit, where sessions must end (and be announced
      // in the same transaction), does it write nothing and leave the work to the transaction below.
      const [row] = await this.#query<RawSessionRow>(CREATE_SESSION_WITHIN_LIMIT, [
        crypto.randomUUID(),
        input.userId,
        input.deviceName,
        userAgent,
        input.client.ip,
        now.toISOString(),
        new Date(now.getTime() + this.deps.policy.refreshTokenTtl * 1000).toISOString(),
        this.#idleHorizon(now).toISOString(),
        this.deps.policy.maxSessionsPerUser,
        crypto.randomUUID(),
        sha256Hex(refreshToken),
        input.cause,
      ]);
      if (row) return { session: sessionFromRawRow(row), refreshToken };
    }
    return this.#ends.revokingTransaction(async (tx, record) => {
      await input.alsoIn?.(tx);
      // Concurrent logins of one user queue here, so each counts the others' sessions and the
      // limit holds (READ COMMITTED: the next statement sees what the previous holder committed).
      // Its sessions too, in the order that keeps ending some of them from deadlocking (lockUsers).
      await lockUsers(tx, [input.userId]);
      // Then all the rest in one statement (each statement is a round trip plus the CPU to build
      // it; sign-ups and logins at the limit come here): the session, the first token of its family, the audit event, and
      // the user's other live sessions beyond the limit. The last read cannot see the session being
      // inserted (one snapshot per statement), hence `offset limit - 1`.
      const sessionId = crypto.randomUUID();
      const [row] = rowsOf<NewSessionRow>(
        await tx.execute(sql`
          with created as (
            insert into sessions (id, user_id, device_name, user_agent, ip, created_at, last_used_at, expires_at)
            values (${sessionId}::uuid, ${input.userId}::uuid, ${input.deviceName}, ${userAgent}, ${input.client.ip},
              ${now.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz,
              ${new Date(now.getTime() + this.deps.policy.refreshTokenTtl * 1000).toISOString()}::timestamptz)
            returning *
          ), issued as (
            insert into refresh_tokens (id, session_id, parent_id, token_hash, created_at)
            select ${crypto.randomUUID()}::uuid, created.id, null, ${sha256Hex(refreshToken)}, ${now.toISOString()}::timestamptz
            from created
            returning id
          ), audited as (
            insert into auth_events (type, user_id, session_id, ip, user_agent, occurred_at)
            select ${input.cause}, created.user_id, created.id, created.ip, created.user_agent, ${now.toISOString()}::timestamptz
            from created
            returning id
          )
          select created.*, array(
            select s.id from sessions s
            where s.user_id = ${input.userId}::uuid and s.id <> ${sessionId}::uuid and s.ended_at is null
              and s.expires_at > ${now.toISOString()}::timestamptz
              and s.last_used_at > ${this.#idleHorizon(now).toISOString()}::timestamptz
            order by s.last_used_at desc, s.created_at desc
            offset ${this.deps.policy.maxSessionsPerUser - 1}
          )::text[] as beyond_limit
          from created join issued on true join audited on true`),
      );
      const beyondLimit = parsePgArray(row!.beyond_limit);
      await record(await this.#ends.endIn(tx, { userId: input.userId, sessionIds: beyondLimit }, 'SESSION_LIMIT'));
      return { session: sessionFromRawRow(row!), refreshToken };
    });
  }

  /**
   * Spends the token and issues its successor in one statement (see rotation.ts). Only when that
   * finds nothing to rotate is the token looked at again, to tell why: nothing is written on the
   * way, except the end of the session when a spent token is presented outside the grace window,
   * which commits although the request fails.
   */
  async rotateRefreshToken(token: string, client: ClientInfo): Promise<RotationResult> {
    if (!isWellFormedRefreshToken(token)) return { kind: 'invalid' };
    const rotated = await this.#rotations.load({ token, userAgent: truncate(client.userAgent), ip: client.ip });
    if (rotated) return { kind: 'rotated', ...rotated };
    const now = this.deps.clock();

    const presented = await findRefreshTokenWithSession(this.deps.db, token);
    // Unknown; or of a session that has ended (a spent token then proves nothing more); or unspent
    // but not rotatable, which only a session ending at this very moment explains.
    if (!presented || !this.isLive(presented.session, now) || presented.spentAt === null) return { kind: 'invalid' };
    const graceStart = now.getTime() - this.deps.policy.refreshReuseGrace * 1000;
    if (presented.spentAt.getTime() > graceStart && presented.successorIsLive) return { kind: 'just-rotated' };
    await recordAuthEvent(this.deps.db, {
      type: 'REFRESH_TOKEN_REUSED',
      userId: presented.session.userId,
      sessionId: presented.session.id,
      client,
      at: now,
    });
    const ended = await this.endSessions(
      { userId: presented.session.userId, sessionIds: [presented.session.id] },
      'REFRESH_TOKEN_REUSE',
      client,
    );
    // Someone else ended it in the meantime: then this token is merely one of an ended session.
    return ended.length > 0 ? { kind: 'reused' } : { kind: 'invalid' };
  }

  /**
   * After a password change, in one transaction: `alsoIn` (which stores the new hash), every other
   * session of the user ended (PASSWORD_CHANGED, announced on the bus), and the current session
   * rotated: its live refresh token spent, a successor issued. Null (and nothing done) when the
   * current session is no longer live.
   */
  async restartAfterPasswordChange(input: {
    userId: string;
    sessionId: string;
    alsoIn: (tx: Transaction) => Promise<void>;
  }): Promise<{ session: SessionRecord; refreshToken: string } | null> {
    return this.#ends.revokingTransaction(async (tx, record) => {
      const now = this.deps.clock();
      // The user's row and sessions first, like every transaction that ends a user's sessions: two
      // password changes (or one and a revokeOtherSessions) from two devices would otherwise each lock
      // its own session, then wait for the other's: a deadlock, which PostgreSQL breaks by failing one.
      await lockUsers(tx, [input.userId]);
      // Locks the session's row: a concurrent logout waits for this transaction, or this one for it.
      const [current] = await tx
        .update(sessions)
        .set({ lastUsedAt: now })
        .where(and(eq(sessions.id, input.sessionId), eq(sessions.userId, input.userId), ...this.#liveAt(now)))
        .returning();
      if (!current) return null;
      await input.alsoIn(tx);
      await record(
        await this.#ends.endIn(tx, { userId: input.userId, exceptSessionId: current.id }, 'PASSWORD_CHANGED'),
      );
      const [spentId] = await spendLiveTokensOfSession(tx, current.id, now);
      const refreshToken = await issueRefreshToken(tx, { sessionId: current.id, parentId: spentId ?? null, now });
      return { session: current, refreshToken };
    });
  }

  /** The session a refresh token (spent or not) belongs to. */
  async findSessionOfRefreshToken(token: string): Promise<SessionRecord | null> {
    if (!isWellFormedRefreshToken(token)) return null;
    const found = await findRefreshToken(this.deps.db, token);
    return found ? findSession(this.deps.db, found.sessionId) : null;
  }

  findSession(sessionId: string): Promise<SessionRecord | null> {
    return findSession(this.deps.db, sessionId);
  }

  /**
   * Ends the selected live sessions of one user and tells every instance (see SessionEnds: requests
   * that come together are ended together). `client`: who asked, for the audit log.
   */
  endSessions(selection: SessionSelection, reason: RevocationReason, client?: ClientInfo): Promise<SessionRevoked[]> {
    return this.#ends.end(selection, reason, client);
  }

  /** Marks sessions past their idle or absolute end as ended (EXPIRED); one instance at a time. */
  endExpiredSessions(): Promise<SessionRevoked[]> {
    return this.#ends.endExpired();
  }

  /** The user's live sessions, most recently used first. */
  async listLiveSessions(userId: string): Promise<SessionRecord[]> {
    return this.deps.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, userId), ...this.#liveAt(this.deps.clock())))
      .orderBy(desc(sessions.lastUsedAt), desc(sessions.createdAt));
  }

  #liveAt(now: Date): SQL[] {
    return liveAt(this.deps.policy, now);
  }

  #idleHorizon(now: Date): Date {
    return idleHorizon(this.deps.policy, now);
  }


}

async function findSession(db: Executor, sessionId: string): Promise<SessionRecord | null> {
  const [session] = await db.select().from(sessions).where(eq(sessions.id, sessionId));
  return session ?? null;
}

interface NewSessionRow extends RawSessionRow {
  /** text[]: an array on PGlite, sometimes its literal ("{a,b}") on postgres.js. */
  beyond_limit: string[] | string;
}

/** A text[] of uuids as either driver returns it (uuids hold no commas, quotes or braces). */
function parsePgArray(value: string[] | string): string[] {
  if (Array.isArray(value)) return value;
  const inner = value.slice(1, -1);
  return inner === '' ? [] : inner.split(',');
}

function truncate(userAgent: string | null): string | null {
  return userAgent === null ? null : userAgent.slice(0, USER_AGENT_MAX_LENGTH);
}
