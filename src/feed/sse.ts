import type { EndedSession } from './ended-sessions.js';

/** The wire format of GET /revocations (packages/verifier/README.md, "The feed's wire format"). */

/** An end's id: its time first, so that any instance can resume "after" it from the database. */
export function eventId(end: EndedSession): string {
  return `${end.endedAt.getTime()}-${end.sessionId}`;
}

/** The time (ms) a Last-Event-ID names, or null for anything that is not one of our ids. */
export function eventIdTime(id: string | undefined): number | null {
  const match = id === undefined ? null : /^(\d{1,16})-[0-9a-f-]{36}$/i.exec(id);
  return match ? Number(match[1]) : null;
}

export function revokedEvent(end: EndedSession): string {
  const data = { sessionId: end.sessionId, userId: end.userId, reason: end.reason, endedAt: end.endedAt.toISOString() };
  return `event: revoked\nid: ${eventId(end)}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function helloEvent(hello: {
  issuer: string;
  audience: string;
  accessTokenTtl: number;
  serverTime: Date;
  heartbeatInterval: number;
}): string {
  return `event: hello\ndata: ${JSON.stringify({ ...hello, serverTime: hello.serverTime.toISOString() })}\n\n`;
}

export function readyEvent(replayed: number): string {
  return `event: ready\ndata: ${JSON.stringify({ replayed })}\n\n`;
}

export const HEARTBEAT = ': heartbeat\n\n';
