import type { TestApp } from './app.js';
import { AUTH_FIELDS } from './auth-flows.js';
import type { Gql } from './gql.js';

export const REQUEST_RESET = 'mutation ($email: String!) { requestPasswordReset(email: $email) }';
export const RESET_PASSWORD = `mutation ($token: String!, $password: String!, $deviceName: String) {
  resetPassword(token: $token, newPassword: $password, deviceName: $deviceName) { ${AUTH_FIELDS} } }`;
export const REQUEST_VERIFICATION = 'mutation { requestEmailVerification }';
export const VERIFY_EMAIL = 'mutation ($token: String!) { verifyEmail(token: $token) { id email emailVerified } }';
export const ME_VERIFIED = 'query { me { emailVerified } }';

/** Asks for a reset link, throwing unless the answer is true; resolves once the request has been written. */
export async function requestReset(t: TestApp, email: string): Promise<void> {
  const result = await t.gql(REQUEST_RESET, { email });
  if (result.data?.requestPasswordReset !== true) throw new Error(`requestPasswordReset: ${JSON.stringify(result)}`);
  await t.app.auth.email.settled();
}

export async function requestVerification(gql: Gql, token: string): Promise<void> {
  const result = await gql(REQUEST_VERIFICATION, {}, { token });
  if (result.data?.requestEmailVerification !== true)
    throw new Error(`requestEmailVerification: ${JSON.stringify(result)}`);
}

export const REQUEST_EMAIL_CHANGE = `mutation ($newEmail: String!, $password: String!) {
  requestEmailChange(newEmail: $newEmail, currentPassword: $password) }`;
export const CONFIRM_EMAIL_CHANGE =
  'mutation ($token: String!) { confirmEmailChange(token: $token) { id email emailVerified } }';
