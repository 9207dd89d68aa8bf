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
    // Always read from the database, even for `me { id }`: a valid token of a deleted account
    // must be refused (SESSION_REVOKED), and only the row can tell. The loader reads it once per operation.
    resolve: (_root, _args, ctx) => ctx.loaders.users.load(ctx.viewer.userId),
  }),
);
