import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { signUp, type Payload } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import {
  DELETE,
  EVENTS,
  FINISH_REGISTRATION,
  ORIGIN,
  registrationOptions,
  RENAME,
  SIGN_IN,
  START_REGISTRATION,
  startSignIn,
  userWithPasskey,
} from './helpers/passkey-flows.js';
import { SoftwareAuthenticator } from './helpers/software-authenticator.js';

/**
 * Passkeys through the API with a software authenticator in Node (test/browser-passkeys.test.ts does
 * the same in Chromium with its virtual authenticator): challenges, their expiry on the injected
 * clock, ownership. The app's PUBLIC_URL is the default http://localhost:4000, so RP ID localhost.
 */

const t = useTestApp();

describe('passkey registration', () => {
  it('offers options for RP ID localhost with user verification required and a resident key preferred', async () => {
    const payload = await signUp(t.gql);
    const options = await registrationOptions(t.gql, payload.accessToken);
    expect(options.rp).toEqual({ name: 'tidepass', id: 'localhost' });
    expect(options.user.name).toBe(payload.user.email);
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'preferred', userVerification: 'required' });
    expect(options.timeout).toBe(300_000);
  });

  it('stores the passkey under the given name and records PASSKEY_REGISTERED', async () => {
    const { payload, passkey } = await userWithPasskey(t.gql);
    expect(passkey.name).toBe('Laptop');
    const events = await t.gql(EVENTS, {}, { token: payload.accessToken });
    expect(events.data!['myAuthEvents']).toContainEqual({ type: 'PASSKEY_REGISTERED' });
  });

  it('refuses a response made on an origin that is not ours, and one to a challenge older than 5 minutes', async () => {
    const payload = await signUp(t.gql);
    const authenticator = new SoftwareAuthenticator(ORIGIN);
    const foreign = authenticator.register(await registrationOptions(t.gql, payload.accessToken), 'http://localhost:5000');
    const refused = await t.gql(FINISH_REGISTRATION, { response: foreign }, { token: payload.accessToken });
    expect(codes(refused)).toEqual(['PASSKEY_REJECTED']);

    const late = authenticator.register(await registrationOptions(t.gql, payload.accessToken));
    t.clock.advance(301);
    expect(codes(await t.gql(FINISH_REGISTRATION, { response: late }, { token: payload.accessToken }))).toEqual(['CHALLENGE_EXPIRED']);
  });

  it("refuses another user's challenge: a registration answers only its own user's", async () => {
    const alice = await signUp(t.gql);
    const bob = await signUp(t.gql);
    const response = new SoftwareAuthenticator(ORIGIN).register(await registrationOptions(t.gql, alice.accessToken));
    expect(codes(await t.gql(FINISH_REGISTRATION, { response }, { token: bob.accessToken }))).toEqual(['CHALLENGE_EXPIRED']);
  });

  it('rejects a malformed response as BAD_USER_INPUT and a name that is empty or too long', async () => {
    const payload = await signUp(t.gql);
    const bad = await t.gql(FINISH_REGISTRATION, { response: { id: 'x' } }, { token: payload.accessToken });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    const response = new SoftwareAuthenticator(ORIGIN).register(await registrationOptions(t.gql, payload.accessToken));
    const unnamed = await t.gql(FINISH_REGISTRATION, { response, name: ' ' }, { token: payload.accessToken });
    expect(codes(unnamed)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('passwordless sign-in', () => {
  it('signs in with a discoverable credential, without an email, and records PASSKEY_USED', async () => {
    const { payload, authenticator } = await userWithPasskey(t.gql);
    const { challengeId, options } = await startSignIn(t.gql);
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(options.userVerification).toBe('required');
    const signedIn = await t.gql(SIGN_IN, { challengeId, response: authenticator.authenticate(options), deviceName: 'Phone' });
    expect(codes(signedIn)).toEqual([]);
    const session = signedIn.data!['signInWithPasskey'] as Payload;
    expect(session.user.id).toBe(payload.user.id);
    expect(session.session.deviceName).toBe('Phone');
    const events = await t.gql(EVENTS, {}, { token: session.accessToken });
    expect(events.data!['myAuthEvents']).toContainEqual({ type: 'PASSKEY_USED' });
  });

  it('answers a challenge once: the same response replayed is CHALLENGE_EXPIRED, and against a new challenge PASSKEY_REJECTED', async () => {
    const { authenticator } = await userWithPasskey(t.gql);
    const { challengeId, options } = await startSignIn(t.gql);
    const response = authenticator.authenticate(options);
    expect(codes(await t.gql(SIGN_IN, { challengeId, response }))).toEqual([]);
    expect(codes(await t.gql(SIGN_IN, { challengeId, response }))).toEqual(['CHALLENGE_EXPIRED']);
    const fresh = await startSignIn(t.gql);
    expect(codes(await t.gql(SIGN_IN, { challengeId: fresh.challengeId, response }))).toEqual(['PASSKEY_REJECTED']);
  });

  it('refuses a challenge older than 5 minutes with CHALLENGE_EXPIRED, and takes one of 4 minutes 59', async () => {
    const { authenticator } = await userWithPasskey(t.gql);
    const old = await startSignIn(t.gql);
    t.clock.advance(300);
    const late = await t.gql(SIGN_IN, { challengeId: old.challengeId, response: authenticator.authenticate(old.options) });
    expect(codes(late)).toEqual(['CHALLENGE_EXPIRED']);
    const recent = await startSignIn(t.gql);
    t.clock.advance(299);
    const inTime = await t.gql(SIGN_IN, { challengeId: recent.challengeId, response: authenticator.authenticate(recent.options) });
    expect(codes(inTime)).toEqual([]);
  });

  it('refuses a response made on another origin, a lowered counter and an unknown credential with PASSKEY_REJECTED', async () => {
    const { authenticator, payload } = await userWithPasskey(t.gql);
    const first = await startSignIn(t.gql);
    const foreign = authenticator.authenticate(first.options, { origin: 'http://localhost:5000' });
    expect(codes(await t.gql(SIGN_IN, { challengeId: first.challengeId, response: foreign }))).toEqual(['PASSKEY_REJECTED']);

    // Two assertions made in one order and sent in the other: the second one sent has the lower counter (a clone's).
    const [a, b] = [await startSignIn(t.gql), await startSignIn(t.gql)];
    const earlier = authenticator.authenticate(a.options);
    const later = authenticator.authenticate(b.options);
    expect(codes(await t.gql(SIGN_IN, { challengeId: b.challengeId, response: later }))).toEqual([]);
    expect(codes(await t.gql(SIGN_IN, { challengeId: a.challengeId, response: earlier }))).toEqual(['PASSKEY_REJECTED']);

    const stranger = new SoftwareAuthenticator(ORIGIN);
    stranger.register(await registrationOptions(t.gql, (await signUp(t.gql)).accessToken));
    const c = await startSignIn(t.gql);
    expect(codes(await t.gql(SIGN_IN, { challengeId: c.challengeId, response: stranger.authenticate(c.options) }))).toEqual([
      'PASSKEY_REJECTED',
    ]);
    const events = await t.gql(EVENTS, {}, { token: payload.accessToken });
    expect((events.data!['myAuthEvents'] as { type: string }[]).filter((e) => e.type === 'PASSKEY_FAILED')).toHaveLength(2);
  });
});

describe('managing passkeys', () => {
  it('renames and deletes one of the caller\'s own; another user\'s is NOT_FOUND', async () => {
    const { payload, passkey } = await userWithPasskey(t.gql);
    const other = await signUp(t.gql);
    const renamed = await t.gql(RENAME, { id: passkey.id, name: 'Work laptop' }, { token: payload.accessToken });
    expect(renamed.data!['renamePasskey']).toEqual({ id: passkey.id, name: 'Work laptop' });
    expect(codes(await t.gql(RENAME, { id: passkey.id, name: 'Mine' }, { token: other.accessToken }))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(DELETE, { id: passkey.id }, { token: other.accessToken }))).toEqual(['NOT_FOUND']);
    expect(codes(await t.gql(DELETE, { id: 'not-an-id' }, { token: payload.accessToken }))).toEqual(['NOT_FOUND']);
    const deleted = await t.gql(DELETE, { id: passkey.id }, { token: payload.accessToken });
    expect(deleted.data!['deletePasskey']).toBe(true);
    expect(codes(await t.gql(DELETE, { id: passkey.id }, { token: payload.accessToken }))).toEqual(['NOT_FOUND']);
    const events = await t.gql(EVENTS, {}, { token: payload.accessToken });
    expect(events.data!['myAuthEvents']).toContainEqual({ type: 'PASSKEY_REMOVED' });
  });

  it('a deleted passkey signs in no more', async () => {
    const { payload, authenticator, passkey } = await userWithPasskey(t.gql);
    await t.gql(DELETE, { id: passkey.id }, { token: payload.accessToken });
    const { challengeId, options } = await startSignIn(t.gql);
    expect(codes(await t.gql(SIGN_IN, { challengeId, response: authenticator.authenticate(options) }))).toEqual(['PASSKEY_REJECTED']);
  });

  it('needs a signed-in caller to register, rename or delete', async () => {
    expect(codes(await t.gql(START_REGISTRATION))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await t.gql(DELETE, { id: crypto.randomUUID() }))).toEqual(['UNAUTHENTICATED']);
  });
});
