import { authEventTypes, type AuthEvent } from '../../auth/accounts.js';
import { builder } from '../builder.js';
import { RevocationReasonRef } from './session-revoked.js';

const AuthEventTypeRef = builder.enumType('AuthEventType', {
  description: 'What happened to the account.',
  values: authEventTypes,
});

export const AuthEventRef = builder.objectRef<AuthEvent>('AuthEvent').implement({
  description: 'One entry of the account\'s audit log: where and how the account was used.',
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.field({ type: AuthEventTypeRef, resolve: (event) => event.type }),
    sessionId: t.exposeID('sessionId', { nullable: true, description: 'The session it concerns, if any.' }),
    reason: t.field({
      type: RevocationReasonRef,
      nullable: true,
      description: 'For SESSION_REVOKED: why the session ended.',
      resolve: (event) => event.reason,
    }),
    ip: t.exposeString('ip', { nullable: true, description: 'The client that caused it; null when the server did (expiry, session limit).' }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    actorId: t.exposeID('actorId', {
      nullable: true,
      description: "For an admin's action on the account (USER_* events, and sessions an admin ended): the admin's user id.",
    }),
    detail: t.exposeString('detail', {
      nullable: true,
      description: "For USER_ROLE_CHANGED the role given; for USER_DISABLED the admin's reason, if any.",
    }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
  }),
});

builder.queryField('myAuthEvents', (t) =>
  t.withAuth({ signedIn: true }).field({
    type: [AuthEventRef],
    description: "The caller's own audit log, newest first. `first`: 1 to 100.",
    args: { first: t.arg.int({ defaultValue: 20 }) },
    resolve: (_root, args, ctx) => ctx.auth.accounts.myAuthEvents(ctx.viewer, args.first ?? 20),
  }),
);
