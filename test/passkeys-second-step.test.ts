import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { AUTH_FIELDS, signUp } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import { DELETE, SIGN_IN, START_REGISTRATION, startSignIn, userWithPasskey } from './helpers/passkey-flows.js';
import { claimsOf, firstStep, MY_SECURITY, signUpWithTotp } from './helpers/totp.js';

/** A passkey as the second step of a password login, as a step-up proof, and what it unlocks. */

const t = useTestApp();

const START_SECOND_STEP = `mutation ($mfaToken: String) { startPasskeySignIn(mfaToken: $mfaToken) { challengeId options } }`;
const SIGN_IN_FULL = `mutation ($challengeId: ID!, $response: JSON!, $deviceName: String) {
  signInWithPasskey(challengeId: $challengeId, response: $response, deviceName: $deviceName) {
    ${AUTH_FIELDS} session { authenticationMethods } } }`;
const REAUTHENTICATE = `mutation ($challengeId: ID, $passkeyResponse: JSON) {
  reauthenticate(challengeId: $challengeId, passkeyResponse: $passkeyResponse) { accessToken session { id authenticationMethods } } }`;

async function secondStepChallenge(mfaToken: string) {
  const started = await t.gql(START_SECOND_STEP, { mfaToken });
  expect(codes(started)).toEqual([]);
  return started.data!['startPasskeySignIn'] as { challengeId: string; options: any };
}

describe('a passkey as the second step', () => {
  it('makes login answer MFA_REQUIRED with PASSKEY, then signs in with the first step\'s device name: amr pwd hwk mfa', async () => {
    const { payload, authenticator, passkey } = await userWithPasskey(t.gql);
    const { mfaToken, methods } = await firstStep(t.gql, { email: payload.user.email, deviceName: 'Work desktop' });
    expect(methods).toEqual(['PASSKEY']);
    const { challengeId, options } = await secondStepChallenge(mfaToken);
    expect(options.allowCredentials.map((c: { id: string }) => c.id)).toHaveLength(1);

    const result = await t.gql(SIGN_IN_FULL, { challengeId, response: authenticator.authenticate(options), deviceName: 'ignored' });
    expect(codes(result)).toEqual([]);
    const signedIn = result.data!['signInWithPasskey'];
    expect(signedIn.session.deviceName).toBe('Work desktop');
    expect(signedIn.session.authenticationMethods).toEqual(['pwd', 'hwk', 'mfa']);
    expect(claimsOf(signedIn.accessToken as string)['amr']).toEqual(['pwd', 'hwk', 'mfa']);
    const security = await t.gql(MY_SECURITY, {}, { token: signedIn.accessToken as string });
    expect(security.data!['mySecurity'].passkeys).toEqual([
      expect.objectContaining({ id: passkey.id, name: 'Laptop', lastUsedAt: t.clock().toISOString() }),
    ]);

    // The mfaToken was spent with the challenge: it starts no other.
    expect(codes(await t.gql(START_SECOND_STEP, { mfaToken }))).toEqual(['INVALID_MFA_TOKEN']);
  });

  it("refuses another user's passkey on a second-step challenge, and leaves the mfaToken unspent", async () => {
    const alice = await userWithPasskey(t.gql);
    const mallory = await userWithPasskey(t.gql);
    const { mfaToken } = await firstStep(t.gql, { email: alice.payload.user.email });
    const challenge = await secondStepChallenge(mfaToken);
    // Mallory's authenticator answers with its own credential, which verifies, but is not Alice's.
    const wrongUser = mallory.authenticator.authenticate(challenge.options, { credentialId: mallory.authenticator.credentialIds[0]! });
    expect(codes(await t.gql(SIGN_IN, { challengeId: challenge.challengeId, response: wrongUser }))).toEqual(['PASSKEY_REJECTED']);
    const retry = await secondStepChallenge(mfaToken);
    expect(codes(await t.gql(SIGN_IN, { challengeId: retry.challengeId, response: alice.authenticator.authenticate(retry.options) }))).toEqual([]);
  });

  it('an unknown mfaToken is INVALID_MFA_TOKEN; that of a user with no passkey (TOTP only) is BAD_USER_INPUT', async () => {
    expect(codes(await t.gql(START_SECOND_STEP, { mfaToken: 'x'.repeat(43) }))).toEqual(['INVALID_MFA_TOKEN']);
    const user = await signUpWithTotp(t.gql, t.clock);
    const { mfaToken, methods } = await firstStep(t.gql, { email: user.email });
    expect(methods).not.toContain('PASSKEY');
    expect(codes(await t.gql(START_SECOND_STEP, { mfaToken }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('a passkey as the step-up proof', () => {
  it('removing a passkey needs a recent proof; reauthenticate with a passkey gives it, in the same session: amr hwk', async () => {
    const { payload, authenticator, passkey } = await userWithPasskey(t.gql);
    t.clock.advance(301);
    expect(codes(await t.gql(DELETE, { id: passkey.id }, { token: payload.accessToken }))).toEqual(['REAUTHENTICATION_REQUIRED']);
    expect(codes(await t.gql(START_REGISTRATION, {}, { token: payload.accessToken }))).toEqual(['REAUTHENTICATION_REQUIRED']);

    const { challengeId, options } = await startSignIn(t.gql);
    const proof = await t.gql(
      REAUTHENTICATE,
      { challengeId, passkeyResponse: authenticator.authenticate(options) },
      { token: payload.accessToken },
    );
    expect(codes(proof)).toEqual([]);
    const fresh = proof.data!['reauthenticate'];
    expect(fresh.session).toEqual({ id: payload.session.id, authenticationMethods: ['hwk'] });
    expect(claimsOf(fresh.accessToken as string)['auth_time']).toBe(Math.floor(t.clock().getTime() / 1000));
    expect(codes(await t.gql(DELETE, { id: passkey.id }, { token: fresh.accessToken as string }))).toEqual([]);
  });

  it("refuses another user's passkey as the caller's proof", async () => {
    const caller = await signUp(t.gql);
    const other = await userWithPasskey(t.gql);
    const { challengeId, options } = await startSignIn(t.gql);
    const proof = await t.gql(
      REAUTHENTICATE,
      { challengeId, passkeyResponse: other.authenticator.authenticate(options) },
      { token: caller.accessToken },
    );
    expect(codes(proof)).toEqual(['PASSKEY_REJECTED']);
  });

  it('passwordless sign-in is amr hwk alone', async () => {
    const { authenticator } = await userWithPasskey(t.gql);
    const { challengeId, options } = await startSignIn(t.gql);
    const result = await t.gql(SIGN_IN_FULL, { challengeId, response: authenticator.authenticate(options) });
    expect(result.data!['signInWithPasskey'].session.authenticationMethods).toEqual(['hwk']);
    expect(claimsOf(result.data!['signInWithPasskey'].accessToken as string)['amr']).toEqual(['hwk']);
  });
});
