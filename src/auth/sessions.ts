import { and, desc, eq, gt, inArray, isNull, lte, ne, or, sql, type SQL } from 'drizzle-orm';
import type { Clock } from '../clock.js';
import { rowsOf, type Database, type Executor, type Transaction } from '../db/client.js';
import { sessions } from '../db/schema.js';
import type { RevocationBus, RevocationReason, SessionRevoked } from '../events/revocation-bus.js';
import {
  findRefreshToken,
  isPredecessorOfLiveToken,
  isWellFormedRefreshToken,
  issueRefreshToken,
  spendRefreshToken,
} from './refresh-tokens.js';

export type SessionRecord = typeof sessions.$inferSelect;

/** Durations in seconds. */
export interface SessionPolicy {
  readonly refreshTokenTtl: number;
  readonly sessionIdleTimeout: number;
  readonly refreshReuseGrace: number;
}

export interface ClientInfo {
  readonly userAgent: string | null;
  readonly ip: string | null;
}

export type RotationResult =
  | { readonly kind: 'rotated'; readonly session: SessionRecord; readonly refreshToken: string }
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

/** Announces ended sessions inside the transaction and queues them for local delivery after commit. */
type RecordEnded = (events: SessionRevoked[]) => Promise<SessionRevoked[]>;

/** One instance at a time sweeps: a transaction-scoped advisory lock, released at commit. */
const SWEEP_LOCK_KEY = 0x7469_6465; // "tide"
const SWEEP_BATCH = 500;

const USER_AGENT_MAX_LENGTH = 512;

export class SessionService {
  constructor(
    private readonly deps: { db: Database; bus: RevocationBus; clock: Clock; policy: SessionPolicy },
  ) {}

  /** When the session ends unless refreshed: the absolute end or the idle end, whichever is first. */
  endOf(session: Pick<SessionRecord, 'expiresAt' | 'lastUsedAt'>): Date {
    const idleEnd = session.lastUsedAt.getTime() + this.deps.policy.sessionIdleTimeout * 1000;
    return new Date(Math.min(session.expiresAt.getTime(), idleEnd));
  }

  isLive(session: SessionRecord, now: Date): boolean {
    return session.endedAt === null && this.endOf(session).getTime() > now.getTime();
  }

  /** Every login gets a new session id (no fixation) and the first token of a new family. */
  async createSession(
    input: { userId: string; deviceName: string | null; client: ClientInfo },
  ): Promise<{ session: SessionRecord; refreshToken: string }> {
    const now = this.deps.clock();
    return this.deps.db.transaction(async (tx) => {
      const [session] = await tx
        .insert(sessions)
        .values({
          id: crypto.randomUUID(),
          userId: input.userId,
          deviceName: input.deviceName,
          userAgent: truncate(input.client.userAgent),
          ip: input.client.ip,
          createdAt: now,
          lastUsedAt: now,
          expiresAt: new Date(now.getTime() + this.deps.policy.refreshTokenTtl * 1000),
        })
        .returning();
      const refreshToken = await issueRefreshToken(tx, { sessionId: session!.id, parentId: null, now });
      return { session: session!, refreshToken };
    });
  }

  /** Spends the token and issues its successor in one transaction; a reuse ends the session and commits. */
  async rotateRefreshToken(token: string, client: ClientInfo): Promise<RotationResult> {
    if (!isWellFormedRefreshToken(token)) return { kind: 'invalid' };
    return this.#revokingTransaction(async (tx, record): Promise<RotationResult> => {
      const now = this.deps.clock();
      const spent = await spendRefreshToken(tx, token, now);
      if (spent) {
        const session = await findSession(tx, spent.sessionId);
        if (!session || !this.isLive(session, now)) return { kind: 'invalid' };
        const refreshToken = await issueRefreshToken(tx, { sessionId: session.id, parentId: spent.id, now });
        // Conditional on the session still being open: a concurrent reuse may have ended it since it
        // was read, and then this row lock waited for that commit. Its successor must not come back.
        const [used] = await tx
          .update(sessions)
          .set({ lastUsedAt: now, userAgent: truncate(client.userAgent), ip: client.ip })
          .where(and(eq(sessions.id, session.id), isNull(sessions.endedAt)))
          .returning();
        if (!used) return { kind: 'invalid' };
        return { kind: 'rotated', session: used, refreshToken };
      }

      const presented = await findRefreshToken(tx, token);
      if (!presented) return { kind: 'invalid' };
      const session = await findSession(tx, presented.sessionId);
      if (!session || !this.isLive(session, now)) return { kind: 'invalid' };
      const graceStart = now.getTime() - this.deps.policy.refreshReuseGrace * 1000;
      const withinGrace = presented.spentAt !== null && presented.spentAt.getTime() > graceStart;
      if (withinGrace && (await isPredecessorOfLiveToken(tx, presented.id))) return { kind: 'just-rotated' };
      await record(await this.#endIn(tx, { userId: session.userId, sessionIds: [session.id] }, 'REFRESH_TOKEN_REUSE'));
      return { kind: 'reused' };
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

  /** Ends the selected live sessions of one user and tells every instance. Returns what it ended. */
  endSessions(selection: SessionSelection, reason: RevocationReason): Promise<SessionRevoked[]> {
    return this.#revokingTransaction(async (tx, record) => record(await this.#endIn(tx, selection, reason)));
  }

  /**
   * Marks sessions past their idle or absolute end as ended (reason EXPIRED), so that subscribers
   * hear of it. At most one instance sweeps at a time; returns what this call ended.
   */
  async endExpiredSessions(): Promise<SessionRevoked[]> {
    return this.#revokingTransaction(async (tx, record) => {
      const lock = rowsOf<{ locked: boolean }>(
        await tx.execute(sql`select pg_try_advisory_xact_lock(${SWEEP_LOCK_KEY}) as locked`),
      );
      if (!lock[0]?.locked) return [];
      const now = this.deps.clock();
      const idleHorizon = new Date(now.getTime() - this.deps.policy.sessionIdleTimeout * 1000);
      const expired = tx
        .select({ id: sessions.id })
        .from(sessions)
        .where(and(isNull(sessions.endedAt), or(lte(sessions.expiresAt, now), lte(sessions.lastUsedAt, idleHorizon))))
        .limit(SWEEP_BATCH);
      const rows = await tx
        .update(sessions)
        .set({ endedAt: now, endReason: 'EXPIRED' })
        .where(and(isNull(sessions.endedAt), inArray(sessions.id, expired)))
        .returning({ sessionId: sessions.id, userId: sessions.userId });
      return record(rows.map((row) => ({ ...row, reason: 'EXPIRED' as const, revokedAt: now })));
    });
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
    const idleHorizon = new Date(now.getTime() - this.deps.policy.sessionIdleTimeout * 1000);
    return [isNull(sessions.endedAt), gt(sessions.expiresAt, now), gt(sessions.lastUsedAt, idleHorizon)];
  }

  /**
   * Runs `work` in a transaction in which sessions can be ended. The bus announces the ends inside
   * the transaction (so a rollback sends nothing) and this instance applies them right after commit.
   */
  async #revokingTransaction<T>(work: (tx: Transaction, record: RecordEnded) => Promise<T>): Promise<T> {
    const ended: SessionRevoked[] = [];
    const result = await this.deps.db.transaction(async (tx) =>
      work(tx, async (events) => {
        if (events.length > 0) await this.deps.bus.announce(tx, events);
        ended.push(...events);
        return events;
      }),
    );
    if (ended.length > 0) this.deps.bus.deliverLocally(ended);
    return result;
  }

  async #endIn(tx: Transaction, selection: SessionSelection, reason: RevocationReason): Promise<SessionRevoked[]> {
    if (selection.sessionIds?.length === 0) return [];
    const now = this.deps.clock();
    const conditions = [eq(sessions.userId, selection.userId), ...this.#liveAt(now)];
    if (selection.sessionIds) conditions.push(inArray(sessions.id, [...selection.sessionIds]));
    if (selection.exceptSessionId) conditions.push(ne(sessions.id, selection.exceptSessionId));
    const rows = await tx
      .update(sessions)
      .set({ endedAt: now, endReason: reason })
      .where(and(...conditions))
      .returning({ sessionId: sessions.id, userId: sessions.userId });
    return rows.map((row) => ({ ...row, reason, revokedAt: now }));
  }
}

async function findSession(db: Executor, sessionId: string): Promise<SessionRecord | null> {
  const [session] = await db.select().from(sessions).where(eq(sessions.id, sessionId));
  return session ?? null;
}

function truncate(userAgent: string | null): string | null {
  return userAgent === null ? null : userAgent.slice(0, USER_AGENT_MAX_LENGTH);
}
