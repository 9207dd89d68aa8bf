import type { RevocationBus } from '../events/revocation-bus.js';
import { queueWebhookEvents } from './events.js';

/**
 * The bus, also writing session.revoked webhooks when it announces ends. Every end, whatever its
 * reason, is announced inside the transaction that makes it (src/db/session-ends.ts), so this one
 * hook queues each end's event in that transaction.
 *
 * `accessTokensValidUntil`: no access token of the session is issued after its end, and each lives
 * at most `accessTokenTtl` seconds, so after that instant none of them can be valid anywhere.
 */
export function withSessionRevokedWebhooks(bus: RevocationBus, accessTokenTtl: number): RevocationBus {
  return {
    announce: async (tx, events) => {
      await bus.announce(tx, events);
      await queueWebhookEvents(
        tx,
        'session.revoked',
        events.map((event) => ({
          at: event.revokedAt,
          data: {
            userId: event.userId,
            sessionId: event.sessionId,
            reason: event.reason,
            revokedAt: event.revokedAt.toISOString(),
            accessTokensValidUntil: new Date(event.revokedAt.getTime() + accessTokenTtl * 1000).toISOString(),
          },
        })),
      );
    },
    deliverLocally: (events) => bus.deliverLocally(events),
    subscribe: (listener) => bus.subscribe(listener),
    start: () => bus.start(),
    stop: () => bus.stop(),
  };
}
