import type { User, UserReference } from '../../auth/users.js';
import { builder } from '../builder.js';
import { notSignedInError } from '../context.js';

/** The whole record when at hand (sign-up, login, refresh), else only the id (me). */
type UserSource = User | UserReference;

const loaded = async (user: UserSource, auth: { findUser(id: string): Promise<User> }): Promise<User> =>
  'email' in user ? user : auth.findUser(user.id);

export const UserRef = builder.objectRef<UserSource>('User').implement({
  description: 'An account.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.string({ resolve: async (user, _args, ctx) => (await loaded(user, ctx.auth)).email }),
    createdAt: t.field({ type: 'DateTime', resolve: async (user, _args, ctx) => (await loaded(user, ctx.auth)).createdAt }),
  }),
});

// Checked here rather than by scope-auth (t.withAuth), with the same error: `me` is the field every
// client calls most, and scope-auth builds a per-request cache of five Maps for it (the garbage of
// which was most of what authentication added to a request in the benchmark).
builder.queryField('me', (t) =>
  t.field({
    type: UserRef,
    description: 'The signed-in user. Requires a valid access token.',
    resolve: (_root, _args, ctx) => {
      if (!ctx.viewer) throw notSignedInError(ctx.authentication);
      return ctx.auth.me(ctx.viewer);
    },
  }),
);
