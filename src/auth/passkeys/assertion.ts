import { generateAuthenticationOptions, verifyAuthenticationResponse, type PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { Clock } from '../../clock.js';
import { recordAuthEvent } from '../../db/auth-events.js';
import type { Database } from '../../db/client.js';
import {
  findPasskeyByCredentialId,
  insertChallenge,
  listPasskeys,
  recordPasskeyUse,
  takeChallengeById,
  type ChallengePurpose,
  type ChallengeRow,
  type PasskeyRow,
} from '../../db/passkeys.js';
import { AuthError, badInput } from '../../errors.js';
import { isUuid, sha256Hex } from '../crypto.js';
import type { ClientInfo } from '../sessions.js';
import { userHandleOf } from './registration.js';
import {
  asAuthenticationResponse,
  bytesOf,
  CHALLENGE_TTL_SECONDS,
  checkTaken,
  matchesChallenge,
  newChallenge,
  type RelyingParty,
} from './relying-party.js';

export interface StartedAssertion {
  readonly challengeId: string;
  readonly options: PublicKeyCredentialRequestOptionsJSON;
}

/** A verified assertion: the passkey used (its counter and last use already stored) and the challenge it answered. */
export interface VerifiedAssertion {
  readonly passkey: PasskeyRow;
  readonly challenge: ChallengeRow;
}

/** Asking an authenticator to prove a passkey (navigator.credentials.get) and checking its answer. */
export class PasskeyAssertions {
  constructor(private readonly deps: { db: Database; clock: Clock; relyingParty: RelyingParty }) {}

  /**
   * Without a user, any discoverable credential for our RP ID may answer (passwordless: no email
   * typed). With one, only that user's passkeys are offered; none at all is BAD_USER_INPUT, since
   * an empty allow list would mean "any credential" to the browser.
   */
  async start(input: { purpose: ChallengePurpose; userId?: string; mfaTokenId?: string }): Promise<StartedAssertion> {
    let allowCredentials: { id: string; transports: string[] }[] | undefined;
    if (input.userId) {
      const passkeys = await listPasskeys(this.deps.db, input.userId);
      if (passkeys.length === 0) throw badInput('mfaToken', 'This account has no passkey.');
      allowCredentials = passkeys.map((passkey) => ({ id: passkey.credentialId, transports: passkey.transports }));
    }
    const { challenge, row } = newChallenge(this.deps.clock, input);
    const options = await generateAuthenticationOptions({
      rpID: this.deps.relyingParty.id,
      challenge,
      timeout: CHALLENGE_TTL_SECONDS * 1000,
      userVerification: 'required',
      ...(allowCredentials ? { allowCredentials } : {}),
    });
    const stored = row(sha256Hex(options.challenge));
    await insertChallenge(this.deps.db, stored);
    return { challengeId: stored.id, options };
  }

  /**
   * Takes the challenge (single use: a second answer, even a correct one, finds it gone), then checks
   * the response against it and against the passkey it names: origin, RP ID, user verification,
   * signature, and a counter that must go up. A challenge bound to a user accepts only that user's
   * passkeys. Every refusal after the challenge is PASSKEY_REJECTED and is recorded as PASSKEY_FAILED.
   */
  async verify(
    input: { challengeId: string; response: unknown; field: string; purposes: readonly ChallengePurpose[] },
    client: ClientInfo,
    sessionId: string | null = null,
  ): Promise<VerifiedAssertion> {
    const response = asAuthenticationResponse(input.response, input.field);
    if (!isUuid(input.challengeId)) throw badInput('challengeId', 'challengeId is not one we issued.');
    const challenge = checkTaken(await takeChallengeById(this.deps.db, input.challengeId), this.deps.clock());
    if (!input.purposes.includes(challenge.purpose as ChallengePurpose)) throw new AuthError('CHALLENGE_EXPIRED');
    const passkey = await findPasskeyByCredentialId(this.deps.db, response.id);
    const rejected = async (userId: string | null) => {
      await recordAuthEvent(this.deps.db, { type: 'PASSKEY_FAILED', userId, sessionId, client, at: this.deps.clock() });
      return new AuthError('PASSKEY_REJECTED');
    };
    if (!passkey) throw await rejected(challenge.userId);
    if (challenge.userId !== null && passkey.userId !== challenge.userId) throw await rejected(challenge.userId);
    // A discoverable credential names its user too: it must be the passkey's (it is, unless forged).
    const userHandle = response.response.userHandle;
    if (userHandle && userHandle !== Buffer.from(userHandleOf(passkey.userId)).toString('base64url')) {
      throw await rejected(passkey.userId);
    }
    const verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: matchesChallenge(challenge),
      expectedOrigin: [...this.deps.relyingParty.origins],
      expectedRPID: this.deps.relyingParty.id,
      credential: {
        id: passkey.credentialId,
        publicKey: bytesOf(passkey.publicKey),
        counter: passkey.signCounter,
        transports: passkey.transports,
      },
      requireUserVerification: true,
    }).catch(() => null);
    if (!verified?.verified) throw await rejected(passkey.userId);
    const recorded = await recordPasskeyUse(this.deps.db, {
      id: passkey.id,
      checkedCounter: passkey.signCounter,
      newCounter: verified.authenticationInfo.newCounter,
      at: this.deps.clock(),
    });
    if (!recorded) throw await rejected(passkey.userId);
    return { passkey, challenge };
  }
}
