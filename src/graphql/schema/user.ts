import type { AccountReads } from '../../auth/accounts.js';
import { roles, type Account, type User, type UserReference } from '../../auth/users.js';
import { builder } from '../builder.js';
import { notSignedInError } from '../context.js';

/** The whole record when at hand (sign-up, login, refresh), else only the id (me). */
type UserSource = Account | User | UserReference;

const loaded = async (user: UserSource, accounts: AccountReads): Promise<User> =>
  'email' in user ? user : accounts.findUser(user.id);

/** Whether the address is proven is read from the row unless the source carried it. */
const loadedAccount = async (user: UserSource, accounts: AccountReads): Promise<Account> =>
  'emailVerified' in user && 'disabled' in user ? user : accounts.findUser(user.id);

export const RoleRef = builder.enumType('Role', {
  description: 'What a user may do: USER, or ADMIN (the admin API as well).',
  values: roles,
});

export const UserRef = builder.objectRef<UserSource>('User').implement({
  description: 'An account.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.string({ resolve: async (user, _args, ctx) => (await loaded(user, ctx.auth.accounts)).email }),
    emailVerified: t.boolean({
      description: 'Whether the address has been proven by a link or code sent to it.',
      resolve: async (user, _args, ctx) => (await loadedAccount(user, ctx.auth.accounts)).emailVerified,
    }),
    role: t.field({ type: RoleRef, resolve: async (user, _args, ctx) => (await loaded(user, ctx.auth.accounts)).role }),
    disabled: t.boolean({
      description: 'Whether an admin disabled the account: no sign-in (ACCOUNT_DISABLED) until enabled.',
      resolve: async (user, _args, ctx) => (await loadedAccount(user, ctx.auth.accounts)).disabled,
    }),
    createdAt: t.field({ type: 'DateTime', resolve: async (user, _args, ctx) => (await loaded(user, ctx.auth.accounts)).createdAt }),
  }),
});

// Checked here rather than by scope-auth (t.withAuth), with the same error: `me` is the field every
// client calls most, and scope-auth's per-request cache (five Maps) would cost it more than the check.
builder.queryField('me', (t) =>
  t.field({
    type: UserRef,
    description: 'The signed-in user. Requires a valid access token.',
    resolve: (_root, _args, ctx) => {
      if (!ctx.viewer) throw notSignedInError(ctx.authentication);
      return ctx.auth.accounts.me(ctx.viewer);
    },
  }),
);
