import type { Executor } from '../db/client.js';
import { enqueueWebhookEvents } from '../db/webhook-outbox.js';
import type { RevocationReason } from '../events/revocation-bus.js';

/**
 * The events an endpoint may subscribe to. Each is written to the outbox in the transaction of the
 * change it tells of (session.created by a trigger on sessions: drizzle/0020), so a change that rolls
 * back sends nothing and one that commits is delivered at least once.
 */
export const webhookEventTypes = [
  'user.created',
  'user.deleted',
  'user.disabled',
  'session.created',
  'session.revoked',
  'password.changed',
  'email.verified',
  'mfa.changed',
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

export function isWebhookEventType(type: string): type is WebhookEventType {
  return (webhookEventTypes as readonly string[]).includes(type);
}

/** What each event's `data` holds (docs/api.md#webhooks). Dates are ISO 8601 strings in UTC. */
export interface WebhookEventData {
  'user.created': { userId: string; email: string };
  'session.revoked': { userId: string; sessionId: string; reason: RevocationReason; revokedAt: string; accessTokensValidUntil: string };
  'password.changed': { userId: string; via: 'CHANGE' | 'RESET' };
  'email.verified': { userId: string; email: string };
  'user.disabled': { userId: string; reason: string | null; disabledBy: string };
  'user.deleted': { userId: string; deletedBy: 'USER' | 'ADMIN' };
  /** A second factor turned on or off: the user's sign-in now asks for more, or less. */
  'mfa.changed': { userId: string; change: 'TOTP_ENABLED' | 'TOTP_DISABLED' | 'PASSKEY_ADDED' | 'PASSKEY_REMOVED' };
}

/** Writes events of these types to the webhook outbox, in `tx` (the transaction of the change). */
export async function queueWebhookEvents<T extends keyof WebhookEventData>(
  tx: Executor,
  type: T,
  events: readonly { data: WebhookEventData[T]; at: Date }[],
): Promise<void> {
  await enqueueWebhookEvents(
    tx,
    events.map(({ data, at }) => ({
      // The `webhook-id`: the same for every attempt and every endpoint, so a receiver can deduplicate.
      eventId: `msg_${crypto.randomUUID().replaceAll('-', '')}`,
      type,
      payload: { type, timestamp: at.toISOString(), data },
      at,
    })),
  );
}
