import { expect } from 'vitest';
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { AUTH_FIELDS, signUp } from './auth-flows.js';
import { codes, type Gql } from './gql.js';
import { SoftwareAuthenticator } from './software-authenticator.js';

/** Passkey flows through the API, with a software authenticator; the test app's PUBLIC_URL is the default. */

export const ORIGIN = 'http://localhost:4000';

export const START_REGISTRATION = 'mutation { startPasskeyRegistration }';
export const FINISH_REGISTRATION = `mutation ($response: JSON!, $name: String) {
  finishPasskeyRegistration(response: $response, name: $name) { id name createdAt lastUsedAt } }`;
export const START_SIGN_IN = 'mutation { startPasskeySignIn { challengeId options } }';
export const SIGN_IN = `mutation ($challengeId: ID!, $response: JSON!, $deviceName: String) {
  signInWithPasskey(challengeId: $challengeId, response: $response, deviceName: $deviceName) { ${AUTH_FIELDS} } }`;
export const RENAME = 'mutation ($id: ID!, $name: String!) { renamePasskey(id: $id, name: $name) { id name } }';
export const DELETE = 'mutation ($id: ID!) { deletePasskey(id: $id) }';
export const EVENTS = 'query { myAuthEvents(first: 20) { type } }';

export async function registrationOptions(gql: Gql, token: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const started = await gql(START_REGISTRATION, {}, { token });
  expect(codes(started)).toEqual([]);
  return started.data!['startPasskeyRegistration'] as PublicKeyCredentialCreationOptionsJSON;
}

/** A signed-up user with one registered passkey on their own authenticator. */
export async function userWithPasskey(gql: Gql) {
  const payload = await signUp(gql);
  const authenticator = new SoftwareAuthenticator(ORIGIN);
  const response = authenticator.register(await registrationOptions(gql, payload.accessToken));
  const finished = await gql(FINISH_REGISTRATION, { response, name: 'Laptop' }, { token: payload.accessToken });
  expect(codes(finished)).toEqual([]);
  return { payload, authenticator, passkey: finished.data!['finishPasskeyRegistration'] as { id: string; name: string } };
}

export async function startSignIn(gql: Gql): Promise<{ challengeId: string; options: PublicKeyCredentialRequestOptionsJSON }> {
  const started = await gql(START_SIGN_IN);
  expect(codes(started)).toEqual([]);
  return started.data!['startPasskeySignIn'] as { challengeId: string; options: PublicKeyCredentialRequestOptionsJSON };
}

