import { generateRegistrationOptions, verifyRegistrationResponse, type PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { Clock } from '../../clock.js';
import { recordAuthEvent } from '../../db/auth-events.js';
import type { Database } from '../../db/client.js';
import {
  deletePasskey,
  insertChallenge,
  insertPasskey,
  listPasskeys,
  renamePasskey,
  takeRegistrationChallenge,
  type PasskeyRow,
} from '../../db/passkeys.js';
import { AuthError, badInput } from '../../errors.js';
import { queueWebhookEvents } from '../../webhooks/events.js';
import type { Viewer } from '../authentication.js';
import { isUuid, sha256Hex } from '../crypto.js';
import type { StepUp } from '../second-factors/step-up.js';
import type { ClientInfo } from '../sessions.js';
import { findUserById } from '../users.js';
import {
  asRegistrationResponse,
  CHALLENGE_TTL_SECONDS,
  checkTaken,
  claimedChallenge,
  matchesChallenge,
  newChallenge,
  type RelyingParty,
} from './relying-party.js';

/** A passkey as its owner sees it: never its key or credential id. */
export interface PasskeyView {
  readonly id: string;
  readonly name: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

export const PASSKEY_NAME_MAX_LENGTH = 64;
const DEFAULT_NAME = 'Passkey';

/** Registering, listing, renaming and removing a user's passkeys. */
export class PasskeyRegistration {
  constructor(private readonly deps: { db: Database; clock: Clock; relyingParty: RelyingParty; stepUp: StepUp }) {}

  /**
   * Options for navigator.credentials.create: user verification required; a resident key preferred,
   * so that the passkey can later sign in without the email being typed; the user's passkeys excluded,
   * so that one authenticator is not registered twice.
   */
  async start(viewer: Viewer): Promise<PublicKeyCredentialCreationOptionsJSON> {
    this.deps.stepUp.requireRecent(viewer);
    const user = await findUserById(this.deps.db, viewer.userId);
    if (!user) throw new AuthError('SESSION_REVOKED');
    const existing = await listPasskeys(this.deps.db, user.id);
    const { challenge, row } = newChallenge(this.deps.clock, { purpose: 'REGISTRATION', userId: user.id });
    const options = await generateRegistrationOptions({
      rpName: this.deps.relyingParty.name,
      rpID: this.deps.relyingParty.id,
      userName: user.email,
      // The user handle a discoverable credential gives back at sign-in: our user id, not the email.
      userID: userHandleOf(user.id),
      challenge,
      timeout: CHALLENGE_TTL_SECONDS * 1000,
      attestationType: 'none',
      excludeCredentials: existing.map((passkey) => ({ id: passkey.credentialId, transports: passkey.transports })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
    });
    await insertChallenge(this.deps.db, row(sha256Hex(options.challenge)));
    return options;
  }

  async finish(viewer: Viewer, input: { response?: unknown; name?: string | null }, client: ClientInfo): Promise<PasskeyView> {
    const response = asRegistrationResponse(input.response, 'response');
    const name = passkeyName(input.name ?? DEFAULT_NAME);
    const claimed = claimedChallenge(response);
    if (!claimed) throw new AuthError('PASSKEY_REJECTED');
    const challenge = checkTaken(
      await takeRegistrationChallenge(this.deps.db, { challengeHash: sha256Hex(claimed), userId: viewer.userId }),
      this.deps.clock(),
    );
    const event = { userId: viewer.userId, sessionId: viewer.sessionId, client };
    const verified = await verifyRegistrationResponse({
      response,
      expectedChallenge: matchesChallenge(challenge),
      expectedOrigin: [...this.deps.relyingParty.origins],
      expectedRPID: this.deps.relyingParty.id,
      requireUserVerification: true,
    }).catch(() => ({ verified: false as const }));
    if (!verified.verified) {
      await recordAuthEvent(this.deps.db, { type: 'PASSKEY_FAILED', ...event, at: this.deps.clock() });
      throw new AuthError('PASSKEY_REJECTED');
    }
    const { credential } = verified.registrationInfo;
    const now = this.deps.clock();
    const passkey = await this.deps.db.transaction(async (tx) => {
      const inserted = await insertPasskey(tx, {
        id: crypto.randomUUID(),
        userId: viewer.userId,
        credentialId: credential.id,
        publicKey: Buffer.from(credential.publicKey).toString('base64url'),
        signCounter: credential.counter,
        transports: credential.transports ?? [],
        name,
        createdAt: now,
      });
      if (inserted) {
        await recordAuthEvent(tx, { type: 'PASSKEY_REGISTERED', ...event, at: now });
        await queueWebhookEvents(tx, 'mfa.changed', [{ at: now, data: { userId: viewer.userId, change: 'PASSKEY_ADDED' } }]);
      }
      return inserted;
    });
    // Already registered (excludeCredentials keeps honest browsers from trying): it belongs to one user.
    if (!passkey) throw new AuthError('PASSKEY_REJECTED');
    return viewOf(passkey);
  }

  async list(userId: string): Promise<PasskeyView[]> {
    return (await listPasskeys(this.deps.db, userId)).map(viewOf);
  }

  async rename(viewer: Viewer, input: { id: string; name: string }): Promise<PasskeyView> {
    const name = passkeyName(input.name);
    const renamed = isUuid(input.id) ? await renamePasskey(this.deps.db, { id: input.id, userId: viewer.userId, name }) : null;
    if (!renamed) throw new AuthError('NOT_FOUND');
    return viewOf(renamed);
  }

  /** Another user's passkey is NOT_FOUND, as one that does not exist: ids reveal nothing. */
  async remove(viewer: Viewer, id: string, client: ClientInfo): Promise<true> {
    this.deps.stepUp.requireRecent(viewer);
    const removed =
      isUuid(id) &&
      (await this.deps.db.transaction(async (tx) => {
        const deleted = await deletePasskey(tx, { id, userId: viewer.userId });
        if (deleted) {
          const at = this.deps.clock();
          await recordAuthEvent(tx, { type: 'PASSKEY_REMOVED', userId: viewer.userId, sessionId: viewer.sessionId, client, at });
          await queueWebhookEvents(tx, 'mfa.changed', [{ at, data: { userId: viewer.userId, change: 'PASSKEY_REMOVED' } }]);
        }
        return deleted;
      }));
    if (!removed) throw new AuthError('NOT_FOUND');
    return true;
  }
}

/** The WebAuthn user handle of a user: the 16 bytes of the user's UUID. */
export function userHandleOf(userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(userId.replaceAll('-', ''), 'hex'));
}

function passkeyName(raw: string): string {
  const name = raw.trim();
  if (name.length === 0 || name.length > PASSKEY_NAME_MAX_LENGTH) {
    throw badInput('name', `name must be 1 to ${PASSKEY_NAME_MAX_LENGTH} characters.`);
  }
  return name;
}

function viewOf(row: PasskeyRow): PasskeyView {
  return { id: row.id, name: row.name, createdAt: row.createdAt, lastUsedAt: row.lastUsedAt };
}
