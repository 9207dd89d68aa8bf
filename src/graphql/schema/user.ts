import type { User } from '../../auth/users.js';
import { builder } from '../builder.js';

export const UserRef = builder.objectRef<User>('User').implement({
  description: 'An account.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('me', (t) =>
  t.withAuth({ signedIn: true }).field({
    type: UserRef,
    description: 'The signed-in user. Requires a valid access token.',
    resolve: (_root, _args, ctx) => ctx.auth.me(ctx.viewer),
  }),
);
