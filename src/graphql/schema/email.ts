import { builder } from '../builder.js';
import { deliverTokens } from '../token-delivery.js';
import { AuthPayloadRef, TokenDeliveryRef } from './auth.js';
import { UserRef } from './user.js';

builder.mutationFields((t) => ({
  requestEmailVerification: t.withAuth({ signedIn: true }).boolean({
    description:
      "Mails a verification link to the caller's address (true, and nothing sent, if it is verified already). " +
      'RATE_LIMITED beyond MAIL_MAX_PER_RECIPIENT_PER_HOUR mails to it in an hour.',
    resolve: (_root, _args, ctx) => ctx.auth.email.requestEmailVerification(ctx.viewer, ctx.client),
  }),
  verifyEmail: t.field({
    type: UserRef,
    description:
      "Spends a verification link's token and marks its address verified; no sign-in needed. INVALID_EMAIL_TOKEN otherwise.",
    args: { token: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.auth.email.verifyEmail(args.token, ctx.client),
  }),
  requestPasswordReset: t.boolean({
    description:
      'Mails a password-reset link if an account has this address. Always true, in the same time whether or not ' +
      'it has: the mail is written after answering.',
    args: { email: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.auth.email.requestPasswordReset(args.email, ctx.client),
  }),
  resetPassword: t.field({
    type: AuthPayloadRef,
    description:
      'Spends a password-reset token: sets the new password (the rules of changePassword), marks the address verified, ' +
      'ends every session of the user (reason PASSWORD_RESET) and signs in one new session. A refused password leaves the token unspent.',
    args: {
      token: t.arg.string({ required: true }),
      newPassword: t.arg.string({ required: true }),
      deviceName: t.arg.string(),
      delivery: t.arg({ type: TokenDeliveryRef, defaultValue: 'BODY' }),
    },
    resolve: (_root, args, ctx) =>
      deliverTokens(ctx, args.delivery, () => ctx.auth.email.resetPassword(args, ctx.client), {
        startsNewSession: true,
      }),
  }),
  requestEmailChange: t.withAuth({ signedIn: true }).boolean({
    description:
      'Checks the current password (throttled like login; INVALID_CREDENTIALS), then mails a link to the new address ' +
      '(EMAIL_CHANGE_TTL) and a notice without a link to the current one. True also for an address another account ' +
      'has, and nothing is sent. RATE_LIMITED beyond MAIL_MAX_PER_RECIPIENT_PER_HOUR requests an hour.',
    args: { newEmail: t.arg.string({ required: true }), currentPassword: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.auth.email.requestEmailChange(ctx.viewer, args, ctx.client),
  }),
  confirmEmailChange: t.field({
    type: UserRef,
    description:
      "Spends an email-change link's token: the account gets the new address, verified, and every session but the " +
      'one that asked ends (reason EMAIL_CHANGED). No sign-in needed. EMAIL_TAKEN (token unspent) if another account ' +
      'has taken the address since; INVALID_EMAIL_TOKEN otherwise.',
    args: { token: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.auth.email.confirmEmailChange(args.token, ctx.client),
  }),
}));
