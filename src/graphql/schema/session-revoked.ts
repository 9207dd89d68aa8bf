import { revocationReasons, type RevocationReason } from '../../events/revocation-bus.js';
import { builder } from '../builder.js';

interface SessionRevokedEvent {
  readonly sessionId: string;
  readonly reason: RevocationReason;
  readonly revokedAt: Date;
  readonly current: boolean;
}

export const RevocationReasonRef = builder.enumType('RevocationReason', {
  description: 'Why a session ended.',
  values: revocationReasons,
});

const SessionRevokedEventRef = builder.objectRef<SessionRevokedEvent>('SessionRevokedEvent').implement({
  description: "One of the signed-in user's sessions has ended.",
  fields: (t) => ({
    sessionId: t.exposeID('sessionId'),
    reason: t.field({ type: RevocationReasonRef, resolve: (event) => event.reason }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime' }),
    current: t.exposeBoolean('current', { description: "True when it is the subscriber's own session." }),
  }),
});

builder.subscriptionType({});

builder.subscriptionField('sessionRevoked', (t) =>
  t.withAuth({ signedIn: true }).field({
    type: SessionRevokedEventRef,
    description: 'Every session of the signed-in user that ends after subscribing, as it ends.',
    subscribe: (_root, _args, ctx) =>
      ctx.revocationFeed.subscribe(ctx.viewer.userId, {
        sessionId: ctx.viewer.sessionId,
        until: ctx.viewer.tokenExpiresAt,
      }),
    resolve: (event, _args, ctx) => ({
      sessionId: event.sessionId,
      reason: event.reason,
      revokedAt: event.revokedAt,
      current: event.sessionId === ctx.viewer.sessionId,
    }),
  }),
);
