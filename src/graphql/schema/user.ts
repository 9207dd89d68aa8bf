import type { User, UserReference } from '../../auth/users.js';
import { builder } from '../builder.js';

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

builder.queryField('me', (t) =>
  t.withAuth({ signedIn: true }).field({
    type: UserRef,
    description: 'The signed-in user. Requires a valid access token.',
    resolve: (_root, _args, ctx) => ctx.auth.me(ctx.viewer),
  }),
);
