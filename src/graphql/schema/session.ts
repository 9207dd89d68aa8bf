import type { SessionView } from '../../auth/issued-tokens.js';
import { builder } from '../builder.js';

export const SessionRef = builder.objectRef<SessionView>('Session').implement({
  description: 'One login on one device: a refresh-token family.',
  fields: (t) => ({
    id: t.exposeID('id'),
    current: t.exposeBoolean('current', { description: "True for the caller's own session." }),
    deviceName: t.exposeString('deviceName', { nullable: true }),
    userAgent: t.exposeString('userAgent', { nullable: true, description: 'As of the last login or refresh.' }),
    ip: t.exposeString('ip', { nullable: true, description: 'As of the last login or refresh.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', description: 'The last login or refresh.' }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      description: 'When the session ends unless refreshed: the absolute or the idle end, whichever is first.',
    }),
    authenticationMethods: t.stringList({
      description:
        'How the user last proved themselves in this session (sign-in or reauthenticate), as RFC 8176 `amr` ' +
        'values: pwd, otp, hwk (a passkey), mfa (more than one factor).',
      resolve: (session) => [...session.authenticationMethods],
    }),
  }),
});

builder.queryField('mySessions', (t) =>
  t.withAuth({ signedIn: true }).field({
    type: [SessionRef],
    description: "The caller's live sessions, most recently used first.",
    resolve: (_root, _args, ctx) => ctx.auth.sessions.mySessions(ctx.viewer),
  }),
);

builder.mutationFields((t) => ({
  revokeDevice: t.withAuth({ signedIn: true }).boolean({
    description: "Ends one of the caller's sessions. An unknown id or another user's session: NOT_FOUND.",
    args: { sessionId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.auth.sessions.revokeDevice(ctx.viewer, String(args.sessionId), ctx.client),
  }),
  revokeOtherSessions: t.withAuth({ signedIn: true }).int({
    description: 'Ends every session of the caller but the current one; returns how many ended.',
    resolve: (_root, _args, ctx) => ctx.auth.sessions.revokeOtherSessions(ctx.viewer, ctx.client),
  }),
}));
