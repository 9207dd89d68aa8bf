import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Executor } from './client.js';
import { authEvents } from './schema.js';
import type { RevocationReason } from '../events/revocation-bus.js';

/**
 * The append-only audit log (table auth_events): where and how an account was used. What goes in is
 * chosen so that nothing here is a secret: ids, event type, revocation reason, client IP and user
 * agent, time. Never a password, token, hash or the email typed in a failed login (a password is
 * sometimes typed into the email field).
 */

export const authEventTypes = [
  'SIGNED_UP',
  'LOGIN_SUCCEEDED',
  'LOGIN_FAILED',
  'REFRESHED',
  'REFRESH_TOKEN_REUSED',
  'SESSION_REVOKED',
  'PASSWORD_CHANGED',
  'EMAIL_VERIFICATION_REQUESTED',
  'EMAIL_VERIFIED',
  'PASSWORD_RESET_REQUESTED',
  'PASSWORD_RESET',
  'SIGN_IN_CODE_REQUESTED',
  'SIGN_IN_CODE_FAILED',
  'SIGNED_IN_WITH_CODE',
  'EMAIL_CHANGE_REQUESTED',
  'EMAIL_CHANGED',
  /** Kept after the user is gone (the audit log outlives accounts); its reason tells who deleted it. */
  'ACCOUNT_DELETED',
  'PASSKEY_REGISTERED',
  'PASSKEY_REMOVED',
  'PASSKEY_USED',
  'PASSKEY_FAILED',
  'TOTP_ENABLED',
  'TOTP_DISABLED',
  'TOTP_USED',
  'RECOVERY_CODE_USED',
  'RECOVERY_CODES_REGENERATED',
  'SECOND_FACTOR_FAILED',
  'REAUTHENTICATED',
  // An admin's actions on the account (actorId: the admin; the account is the user).
  'USER_DISABLED',
  'USER_ENABLED',
  'USER_SESSIONS_REVOKED',
  'USER_ROLE_CHANGED',
] as const;
export type AuthEventType = (typeof authEventTypes)[number];

/** Where a request came from, as the audit log keeps it. */
export interface AuditedClient {
  readonly ip: string | null;
  readonly userAgent: string | null;
  /** The admin acting on someone else's account (sessions it ends are logged with the admin as actor). */
  readonly actorId?: string | null;
}

export interface AuthEventInput {
  readonly type: AuthEventType;
  /** Null for a failed login with an unknown email. */
  readonly userId: string | null;
  readonly sessionId?: string | null;
  /** For SESSION_REVOKED; for ACCOUNT_DELETED, who deleted it (ACCOUNT_DELETED: the user; ADMIN). */
  readonly reason?: RevocationReason | null;
  /** The client that caused the event; null for the server's own doing (expiry, session limit). */
  readonly client?: AuditedClient | null;
  /** For USER_ROLE_CHANGED the role given; for USER_DISABLED the admin's reason. */
  readonly detail?: string | null;
  readonly at: Date;
}

export interface AuthEvent {
  readonly id: string;
  readonly type: AuthEventType;
  readonly sessionId: string | null;
  readonly reason: RevocationReason | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  /** The admin who did it, for an admin's action; null otherwise. */
  readonly actorId: string | null;
  readonly detail: string | null;
  readonly occurredAt: Date;
}

const USER_AGENT_MAX_LENGTH = 512;
const DETAIL_MAX_LENGTH = 500;

/**
 * Appends events; pass the transaction that does what they describe, so that a rollback leaves no
 * trace of what did not happen (and a revocation that commits is always logged).
 */
export async function recordAuthEvents(db: Executor, events: readonly AuthEventInput[]): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((event) => ({
    type: event.type,
    userId: event.userId,
    sessionId: event.sessionId ?? null,
    reason: event.reason ?? null,
    ip: event.client?.ip?.slice(0, 64) ?? null,
    userAgent: event.client?.userAgent?.slice(0, USER_AGENT_MAX_LENGTH) ?? null,
    actorId: event.client?.actorId ?? null,
    detail: event.detail?.slice(0, DETAIL_MAX_LENGTH) ?? null,
    occurredAt: event.at,
  }));
  if (rows.length === 1) {
    await db.insert(authEvents).values(rows);
    return;
  }
  // Many at once (a burst of revocations goes in one transaction): one JSON parameter rather than
  // seven per event, which drizzle took longer to build than PostgreSQL took to insert. In order,
  // so that ids (the tie-break between events of one instant) follow the events.
  const json = JSON.stringify(
    rows.map((row, n) => ({
      n,
      type: row.type,
      user_id: row.userId,
      session_id: row.sessionId,
      reason: row.reason,
      ip: row.ip,
      user_agent: row.userAgent,
      actor_id: row.actorId,
      detail: row.detail,
      occurred_at: row.occurredAt.toISOString(),
    })),
  );
  await db.execute(sql`
    insert into auth_events (type, user_id, session_id, reason, ip, user_agent, actor_id, detail, occurred_at)
    select e.type, e.user_id, e.session_id, e.reason, e.ip, e.user_agent, e.actor_id, e.detail, e.occurred_at
    from jsonb_to_recordset(${json}::jsonb) as e(n int, type text, user_id uuid, session_id uuid,
      reason text, ip text, user_agent text, actor_id uuid, detail text, occurred_at timestamptz)
    order by e.n`);
}

export function recordAuthEvent(db: Executor, event: AuthEventInput): Promise<void> {
  return recordAuthEvents(db, [event]);
}

/** The user's events, newest first. */
export async function listAuthEvents(db: Executor, userId: string, limit: number): Promise<AuthEvent[]> {
  const rows = await db
    .select()
    .from(authEvents)
    .where(eq(authEvents.userId, userId))
    .orderBy(desc(authEvents.occurredAt), desc(authEvents.id))
    .limit(limit);
  return rows.map((row) => ({
    id: String(row.id),
    type: row.type as AuthEventType,
    sessionId: row.sessionId,
    reason: row.reason as RevocationReason | null,
    ip: row.ip,
    userAgent: row.userAgent,
    actorId: row.actorId,
    detail: row.detail,
    occurredAt: row.occurredAt,
  }));
}

/**
 * Deletes up to `limit` events older than `before`. The append-only trigger lets a DELETE through
 * only in a transaction that has declared itself the pruner; so this must run inside one.
 */
export async function pruneAuthEvents(tx: Executor, before: Date, limit: number): Promise<number> {
  await tx.execute(sql`select set_config('tidepass.prune_auth_events', 'on', true)`);
  const old = tx.select({ id: authEvents.id }).from(authEvents).where(lt(authEvents.occurredAt, before)).limit(limit);
  const deleted = await tx
    .delete(authEvents)
    .where(and(lt(authEvents.occurredAt, before), inArray(authEvents.id, old)))
    .returning({ id: authEvents.id });
  return deleted.length;
}
