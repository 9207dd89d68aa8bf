import type { StartedAssertion } from '../../auth/passkeys/passkeys.js';
import { builder } from '../builder.js';
import { deliverTokens } from '../token-delivery.js';
import { AuthPayloadRef, TokenDeliveryRef } from './auth.js';
import { PasskeyRef } from './security.js';

const PasskeyChallengeRef = builder.objectRef<StartedAssertion>('PasskeyChallenge').implement({
  description: 'A challenge for navigator.credentials.get, valid 5 minutes and answerable once.',
  fields: (t) => ({
    challengeId: t.exposeID('challengeId', { description: 'Send it back with the response.' }),
    options: t.field({
      type: 'JSON',
      description: "PublicKeyCredentialRequestOptionsJSON: pass it to @simplewebauthn/browser's startAuthentication({ optionsJSON }).",
      resolve: (challenge) => challenge.options,
    }),
  }),
});

builder.mutationFields((t) => ({
  startPasskeyRegistration: t.withAuth({ signedIn: true }).field({
    type: 'JSON',
    description:
      "PublicKeyCredentialCreationOptionsJSON for @simplewebauthn/browser's startRegistration({ optionsJSON }); " +
      'its challenge is valid 5 minutes, answerable once.',
    resolve: (_root, _args, ctx) => ctx.auth.passkeys.startRegistration(ctx.viewer),
  }),
  finishPasskeyRegistration: t.withAuth({ signedIn: true }).field({
    type: PasskeyRef,
    description: "Verifies startRegistration's response and stores the passkey. Refused: PASSKEY_REJECTED; challenge gone: CHALLENGE_EXPIRED.",
    args: {
      response: t.arg({ type: 'JSON', required: true }),
      name: t.arg.string({ description: '1 to 64 characters; default "Passkey".' }),
    },
    resolve: (_root, args, ctx) => ctx.auth.passkeys.finishRegistration(ctx.viewer, args, ctx.client),
  }),
  renamePasskey: t.withAuth({ signedIn: true }).field({
    type: PasskeyRef,
    description: "Renames one of the caller's passkeys; anyone else's is NOT_FOUND.",
    args: { id: t.arg.id({ required: true }), name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.auth.passkeys.rename(ctx.viewer, { id: String(args.id), name: args.name }),
  }),
  deletePasskey: t.withAuth({ signedIn: true }).boolean({
    description: "Removes one of the caller's passkeys; anyone else's is NOT_FOUND.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.auth.passkeys.remove(ctx.viewer, String(args.id), ctx.client),
  }),
  startPasskeySignIn: t.field({
    type: PasskeyChallengeRef,
    description:
      'Without mfaToken: passwordless sign-in with a discoverable credential (no email needed), or the passkey proof ' +
      "of reauthenticate. With the mfaToken of a sign-in that answered MFA_REQUIRED: its second step, offering that user's passkeys.",
    args: { mfaToken: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.auth.passkeys.startSignIn(args.mfaToken),
  }),
  signInWithPasskey: t.field({
    type: AuthPayloadRef,
    description:
      "Verifies startAuthentication's response to the challenge and starts a session. The challenge is single use: " +
      'gone, used or older than 5 minutes is CHALLENGE_EXPIRED; a response that does not verify is PASSKEY_REJECTED. ' +
      "For a second step, the session gets the first step's deviceName and delivery, and the mfaToken is spent.",
    args: {
      challengeId: t.arg.id({ required: true }),
      response: t.arg({ type: 'JSON', required: true }),
      deviceName: t.arg.string(),
      delivery: t.arg({ type: TokenDeliveryRef, defaultValue: 'BODY' }),
    },
    resolve: async (_root, args, ctx) => {
      const signedIn = await ctx.auth.passkeys.signIn({ ...args, challengeId: String(args.challengeId) }, ctx.client);
      return deliverTokens(ctx, signedIn.delivery ?? args.delivery, () => Promise.resolve(signedIn.tokens), {
        startsNewSession: true,
      });
    },
  }),
}));
