import type { PasskeyView, SecuritySettings, TotpEnrollment } from '../../auth/second-factors/second-factor-use-cases.js';
import { builder } from '../builder.js';
import { deliverTokens } from '../token-delivery.js';
import { AuthPayloadRef, TokenDeliveryRef } from './auth.js';

export const PasskeyRef = builder.objectRef<PasskeyView>('Passkey').implement({
  description: 'A WebAuthn credential of the caller, usable to sign in without a password or as the second step.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
  }),
});

const SecuritySettingsRef = builder.objectRef<SecuritySettings>('SecuritySettings').implement({
  description: "The caller's second factors.",
  fields: (t) => ({
    totpEnabled: t.exposeBoolean('totpEnabled', { description: 'Whether an authenticator app (TOTP) is set up.' }),
    recoveryCodesLeft: t.exposeInt('recoveryCodesLeft', { description: 'Recovery codes not used yet.' }),
    passkeys: t.field({ type: [PasskeyRef], resolve: (settings) => [...settings.passkeys] }),
  }),
});

const TotpEnrollmentRef = builder.objectRef<TotpEnrollment>('TotpEnrollment').implement({
  description: 'A new authenticator-app secret, pending until confirmTotpEnrollment.',
  fields: (t) => ({
    secret: t.exposeString('secret', { description: 'Base32, for typing into the app.' }),
    otpauthUri: t.exposeString('otpauthUri', { description: 'otpauth://totp/… (SHA-1, 6 digits, 30 s).' }),
    qrCodeSvg: t.exposeString('qrCodeSvg', { description: 'The URI as a QR code, an SVG document.' }),
  }),
});

builder.queryField('mySecurity', (t) =>
  t.withAuth({ signedIn: true }).field({
    type: SecuritySettingsRef,
    resolve: (_root, _args, ctx) => ctx.auth.secondFactors.mySecurity(ctx.viewer),
  }),
);

builder.mutationFields((t) => ({
  startTotpEnrollment: t.withAuth({ signedIn: true }).field({
    type: TotpEnrollmentRef,
    description: 'Starts setting up an authenticator app. Needs a recent proof (else REAUTHENTICATION_REQUIRED).',
    resolve: (_root, _args, ctx) => ctx.auth.secondFactors.startTotpEnrollment(ctx.viewer),
  }),
  confirmTotpEnrollment: t.withAuth({ signedIn: true }).stringList({
    description: 'A code from the app turns TOTP on. Returns 10 recovery codes, shown this once.',
    args: { code: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.auth.secondFactors.confirmTotpEnrollment(ctx.viewer, args.code, ctx.client),
  }),
  disableTotp: t.withAuth({ signedIn: true }).boolean({
    description: 'Turns TOTP off, with a code from the app or a recovery code. Needs a recent proof.',
    args: { code: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.auth.secondFactors.disableTotp(ctx.viewer, args.code, ctx.client),
  }),
  regenerateRecoveryCodes: t.withAuth({ signedIn: true }).stringList({
    description: 'Ten new recovery codes; the old ones stop working. Needs a recent proof.',
    resolve: (_root, _args, ctx) => ctx.auth.secondFactors.regenerateRecoveryCodes(ctx.viewer, ctx.client),
  }),
  completeLogin: t.field({
    type: AuthPayloadRef,
    description:
      "The second step of a sign-in that answered MFA_REQUIRED: its mfaToken with a TOTP or recovery code. The session " +
      "gets the first step's deviceName and delivery. A wrong code (INVALID_MFA_CODE) leaves the mfaToken usable.",
    args: { mfaToken: t.arg.string({ required: true }), code: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const completed = await ctx.auth.secondFactors.completeLogin(args, ctx.client);
      return deliverTokens(ctx, completed.delivery, () => Promise.resolve(completed.tokens), { startsNewSession: true });
    },
  }),
  reauthenticate: t.withAuth({ signedIn: true }).field({
    type: AuthPayloadRef,
    description:
      "Proves again, in the caller's own session: the password, plus a TOTP or recovery code where the account has a " +
      'second factor; or a passkey (challengeId and passkeyResponse). Returns tokens for the same session with a fresh auth_time.',
    args: {
      password: t.arg.string(),
      code: t.arg.string(),
      challengeId: t.arg.id({ description: 'With passkeyResponse: a challenge from startPasskeySignIn() without mfaToken.' }),
      passkeyResponse: t.arg({ type: 'JSON', description: "startAuthentication's response, made with one of the caller's passkeys." }),
      delivery: t.arg({ type: TokenDeliveryRef, defaultValue: 'BODY' }),
    },
    resolve: (_root, args, ctx) =>
      deliverTokens(ctx, args.delivery, () =>
        // A passkey is a proof of its own; otherwise the password (plus a code where the account has a second factor).
        args.challengeId != null
          ? ctx.auth.passkeys.reauthenticate(ctx.viewer, { ...args, challengeId: String(args.challengeId) }, ctx.client)
          : ctx.auth.reauthentication.reauthenticate(ctx.viewer, args, ctx.client),
      ),
  }),
}));
