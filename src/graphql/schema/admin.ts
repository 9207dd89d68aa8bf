import type { UserPage } from '../../auth/admin/user-directory.js';
import type { Account } from '../../auth/users.js';
import { builder } from '../builder.js';
import { AuthEventRef } from './auth-event.js';
import { SessionRef } from './session.js';
import { RoleRef, UserRef } from './user.js';

// The admin API: every field here is guarded by the `admin` scope (builder.ts), which reads the
// caller's role from the database; a signed-in non-admin gets FORBIDDEN.

type UserEdge = UserPage['edges'][number];

const PageInfoRef = builder.objectRef<UserPage['pageInfo']>('PageInfo').implement({
  description: 'Where a page of a cursor connection ends, and whether there is more.',
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true, description: 'Pass as `after` for the next page; null on an empty page.' }),
  }),
});

const UserEdgeRef = builder.objectRef<UserEdge>('UserEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: 'Opaque.' }),
    node: t.field({ type: UserRef, resolve: (edge) => edge.node }),
  }),
});

const UserConnectionRef = builder.objectRef<UserPage>('UserConnection').implement({
  description: 'A page of users (Relay cursor connection), oldest account first.',
  fields: (t) => ({
    edges: t.field({ type: [UserEdgeRef], resolve: (page) => page.edges }),
    pageInfo: t.field({ type: PageInfoRef, resolve: (page) => page.pageInfo }),
  }),
});

builder.objectFields(UserRef, (t) => ({
  sessions: t.withAuth({ admin: true }).field({
    type: [SessionRef],
    description: "Admins only: the user's live sessions, most recently used first.",
    resolve: (user, _args, ctx) => ctx.auth.admin.sessionsOf(ctx.viewer, user.id),
  }),
  authEvents: t.withAuth({ admin: true }).field({
    type: [AuthEventRef],
    description: "Admins only: the user's audit log, newest first (as the user's myAuthEvents). `first`: 1 to 100.",
    args: { first: t.arg.int({ defaultValue: 20 }) },
    resolve: (user, args, ctx) => ctx.auth.admin.authEventsOf(user.id, args.first ?? 20),
  }),
}));

builder.queryFields((t) => ({
  users: t.withAuth({ admin: true }).field({
    type: UserConnectionRef,
    description:
      'Admins only: users, oldest first. `query`: a case-insensitive substring of the email. `first`: 1 to 100; ' +
      '`after`: the endCursor of the previous page.',
    args: { query: t.arg.string(), first: t.arg.int({ defaultValue: 20 }), after: t.arg.string() },
    resolve: (_root, args, ctx) =>
      ctx.auth.admin.listUsers({ query: args.query ?? null, first: args.first ?? 20, after: args.after ?? null }),
  }),
  user: t.withAuth({ admin: true }).field({
    type: UserRef,
    nullable: true,
    description: 'Admins only: a user by id; null if there is none.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx): Promise<Account | null> => ctx.auth.admin.findUser(String(args.id)),
  }),
}));

builder.mutationFields((t) => ({
  disableUser: t.withAuth({ admin: true }).field({
    type: UserRef,
    description:
      'Admins only: ends every session of the user at once (reason ADMIN, on every instance) and refuses its ' +
      'sign-in (ACCOUNT_DISABLED) until enableUser. Not the last admin (BAD_USER_INPUT). Unknown user: NOT_FOUND.',
    args: { userId: t.arg.id({ required: true }), reason: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.auth.admin.disableUser(ctx.viewer, String(args.userId), args.reason ?? null, ctx.client),
  }),
  enableUser: t.withAuth({ admin: true }).field({
    type: UserRef,
    description: 'Admins only: lets a disabled user sign in again.',
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.auth.admin.enableUser(ctx.viewer, String(args.userId), ctx.client),
  }),
  revokeUserSessions: t.withAuth({ admin: true }).int({
    description: 'Admins only: ends every session of the user (reason ADMIN); returns how many ended.',
    args: { userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.auth.admin.revokeUserSessions(ctx.viewer, String(args.userId), ctx.client),
  }),
  setUserRole: t.withAuth({ admin: true }).field({
    type: UserRef,
    description: 'Admins only: gives the user this role. Demoting the last admin: BAD_USER_INPUT.',
    args: { userId: t.arg.id({ required: true }), role: t.arg({ type: RoleRef, required: true }) },
    resolve: (_root, args, ctx) => ctx.auth.admin.setUserRole(ctx.viewer, String(args.userId), args.role, ctx.client),
  }),
}));
