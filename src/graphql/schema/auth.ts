import { builder } from '../builder.js';
import { deliverTokens, logout, refreshTokens, type tokenDeliveries, type AuthPayload } from '../token-delivery.js';
import { SessionRef } from './session.js';
import { UserRef } from './user.js';

export const TokenDeliveryRef = builder.enumType('TokenDelivery', {
  description: 'How the refresh token is handed over.',
  values: {
    BODY: { description: 'In AuthPayload.refreshToken, for apps that store it themselves.' },
    COOKIE: {
      description:
        'In an HttpOnly, Secure, SameSite=Strict cookie (__Host-tidepass-refresh) that page scripts cannot read; ' +
        'AuthPayload.refreshToken is null, and refresh() and logout() without an argument use the cookie.',
    },
  } satisfies Record<(typeof tokenDeliveries)[number], unknown>,
});

export const AuthPayloadRef = builder.objectRef<AuthPayload>('AuthPayload').implement({
  description: 'The tokens of a session that just started or was refreshed.',
  fields: (t) => ({
    accessToken: t.exposeString('accessToken', {
      description: 'An ES256 JWT; send it as `Authorization: Bearer <token>`.',
    }),
    accessTokenExpiresAt: t.expose('accessTokenExpiresAt', { type: 'DateTime' }),
    refreshToken: t.exposeString('refreshToken', {
      nullable: true,
      description: 'Opaque and single-use: refresh() spends it and returns its successor. Null with COOKIE delivery.',
    }),
    refreshTokenExpiresAt: t.expose('refreshTokenExpiresAt', { type: 'DateTime' }),
    user: t.field({ type: UserRef, resolve: (payload) => payload.user }),
    session: t.field({ type: SessionRef, resolve: (payload) => payload.session }),
  }),
});

builder.mutationType({});

builder.mutationFields((t) => ({
  signUp: t.field({
    type: AuthPayloadRef,
    description: 'Creates an account and signs it in on this device.',
    args: {
      email: t.arg.string({ required: true }),
      password: t.arg.string({ required: true }),
      deviceName: t.arg.string(),
      delivery: t.arg({ type: TokenDeliveryRef, defaultValue: 'BODY' }),
    },
    resolve: (_root, args, ctx) =>
      deliverTokens(ctx, args.delivery, () => ctx.auth.credentials.signUp(args, ctx.client), { startsNewSession: true }),
  }),
  login: t.field({
    type: AuthPayloadRef,
    description: 'Starts a new session. An unknown email and a wrong password get the same INVALID_CREDENTIALS.',
    args: {
      email: t.arg.string({ required: true }),
      password: t.arg.string({ required: true }),
      deviceName: t.arg.string(),
      delivery: t.arg({ type: TokenDeliveryRef, defaultValue: 'BODY' }),
    },
    resolve: (_root, args, ctx) =>
      deliverTokens(ctx, args.delivery, () => ctx.auth.credentials.login(args, ctx.client), { startsNewSession: true }),
  }),
  changePassword: t.withAuth({ signedIn: true }).field({
    type: AuthPayloadRef,
    description:
      "Checks the current password (throttled like login), sets the new one, ends every other session of the user (reason PASSWORD_CHANGED) and rotates the caller's: the refresh token it held is spent.",
    args: {
      currentPassword: t.arg.string({ required: true }),
      newPassword: t.arg.string({ required: true }),
      delivery: t.arg({
        type: TokenDeliveryRef,
        defaultValue: 'BODY',
        description: "COOKIE for a browser whose session's refresh token is in the cookie: the successor replaces it.",
      }),
    },
    resolve: (_root, args, ctx) =>
      deliverTokens(ctx, args.delivery, () => ctx.auth.credentials.changePassword(ctx.viewer, args, ctx.client)),
  }),
  refresh: t.field({
    type: AuthPayloadRef,
    description:
      'Spends the refresh token and returns its successor with a new access token. Without an argument, spends the ' +
      'refresh cookie and sets its successor; a refusal because the session ended expires the cookie.',
    args: { refreshToken: t.arg.string() },
    resolve: (_root, args, ctx) => refreshTokens(ctx, args.refreshToken),
  }),
  logout: t.boolean({
    description:
      "Ends the caller's session: the access token's, and the refresh token's (the argument, else the refresh " +
      'cookie, which it expires) if that is another. Idempotent.',
    args: { refreshToken: t.arg.string() },
    resolve: (_root, args, ctx) => logout(ctx, args.refreshToken),
  }),
}));
