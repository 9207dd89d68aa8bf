import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { Clock } from '../../clock.js';
import type { Database } from '../../db/client.js';
import type { Viewer } from '../authentication.js';
import type { IssuedTokens, TokenIssuer } from '../issued-tokens.js';
import type { SignInGate } from '../second-factors/sign-in-gate.js';
import type { StepUp } from '../second-factors/step-up.js';
import type { ClientInfo, SessionLifecycle } from '../sessions.js';
import { PasskeyAssertions, type StartedAssertion } from './assertion.js';
import { PasskeyRegistration, type PasskeyView } from './registration.js';
import type { RelyingParty } from './relying-party.js';
import { PasskeySignIn, type PasskeySignInResult } from './sign-in.js';

export type { PasskeySignInResult, PasskeyView, RelyingParty, StartedAssertion };

/** The passkey use cases, as the API layer calls them. */
export class PasskeyUseCases {
  readonly #registration: PasskeyRegistration;
  readonly #signIn: PasskeySignIn;

  constructor(deps: {
    db: Database;
    clock: Clock;
    relyingParty: RelyingParty;
    sessions: SessionLifecycle;
    tokens: TokenIssuer;
    gate: SignInGate;
    stepUp: StepUp;
  }) {
    this.#registration = new PasskeyRegistration(deps);
    const assertions = new PasskeyAssertions(deps);
    this.#signIn = new PasskeySignIn({ ...deps, assertions });
  }

  startRegistration(viewer: Viewer): Promise<PublicKeyCredentialCreationOptionsJSON> {
    return this.#registration.start(viewer);
  }

  finishRegistration(viewer: Viewer, input: { response?: unknown; name?: string | null }, client: ClientInfo): Promise<PasskeyView> {
    return this.#registration.finish(viewer, input, client);
  }

  myPasskeys(viewer: Viewer): Promise<PasskeyView[]> {
    return this.#registration.list(viewer.userId);
  }

  rename(viewer: Viewer, input: { id: string; name: string }): Promise<PasskeyView> {
    return this.#registration.rename(viewer, input);
  }

  remove(viewer: Viewer, id: string, client: ClientInfo): Promise<true> {
    return this.#registration.remove(viewer, id, client);
  }

  startSignIn(mfaToken: string | null | undefined): Promise<StartedAssertion> {
    return this.#signIn.start(mfaToken);
  }

  signIn(
    input: { challengeId: string; response?: unknown; deviceName?: string | null },
    client: ClientInfo,
  ): Promise<PasskeySignInResult> {
    return this.#signIn.signIn(input, client);
  }

  reauthenticate(viewer: Viewer, input: { challengeId: string; passkeyResponse?: unknown }, client: ClientInfo): Promise<IssuedTokens> {
    return this.#signIn.reauthenticate(viewer, input, client);
  }
}
