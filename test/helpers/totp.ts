import { TOTP } from 'otpauth';
import { AUTH_FIELDS, PASSWORD, signUp, uniqueEmail, type Payload } from './auth-flows.js';
import type { FakeClock } from './clock.js';
import type { Gql, GqlResult } from './gql.js';

/** The code an authenticator app shows for `secret` at the clock's time, `steps` steps away. */
export function totpCode(secret: string, clock: FakeClock, steps = 0): string {
  const totp = new TOTP({ secret, algorithm: 'SHA1', digits: 6, period: 30 });
  return totp.generate({ timestamp: clock().getTime() + steps * 30_000 });
}

export const LOGIN_WITH_DELIVERY = `mutation ($email: String!, $password: String!, $deviceName: String, $delivery: TokenDelivery) {
  login(email: $email, password: $password, deviceName: $deviceName, delivery: $delivery) { ${AUTH_FIELDS} } }`;
export const COMPLETE_LOGIN = `mutation ($mfaToken: String!, $code: String!) {
  completeLogin(mfaToken: $mfaToken, code: $code) { ${AUTH_FIELDS} session { authenticationMethods } } }`;
export const START_TOTP = `mutation { startTotpEnrollment { secret otpauthUri qrCodeSvg } }`;
export const CONFIRM_TOTP = `mutation ($code: String!) { confirmTotpEnrollment(code: $code) }`;
export const REAUTHENTICATE = `mutation ($password: String, $code: String) {
  reauthenticate(password: $password, code: $code) { ${AUTH_FIELDS} session { authenticationMethods } } }`;
export const MY_SECURITY = `{ mySecurity { totpEnabled recoveryCodesLeft passkeys { id name createdAt lastUsedAt } } }`;

export interface TotpUser {
  email: string;
  secret: string;
  recoveryCodes: string[];
  /** The sign-up's session, still signed in. */
  signedIn: Payload;
}

/** Signs up and turns TOTP on (the code of the current step is then spent); moves the clock one step on. */
export async function signUpWithTotp(gql: Gql, clock: FakeClock, deviceName?: string): Promise<TotpUser> {
  const email = uniqueEmail('totp');
  const signedIn = await signUp(gql, { email, ...(deviceName ? { deviceName } : {}) });
  const started = await gql(START_TOTP, {}, { token: signedIn.accessToken });
  if (started.errors) throw new Error(`startTotpEnrollment failed: ${JSON.stringify(started.errors)}`);
  const secret = started.data!.startTotpEnrollment.secret as string;
  const confirmed = await gql(CONFIRM_TOTP, { code: totpCode(secret, clock) }, { token: signedIn.accessToken });
  if (confirmed.errors) throw new Error(`confirmTotpEnrollment failed: ${JSON.stringify(confirmed.errors)}`);
  clock.advance(30);
  return { email, secret, recoveryCodes: confirmed.data!.confirmTotpEnrollment as string[], signedIn };
}

/** The first step for a TOTP user: its mfaToken (throws unless MFA_REQUIRED). */
export async function firstStep(
  gql: Gql,
  input: { email: string; password?: string; deviceName?: string; delivery?: 'BODY' | 'COOKIE' },
): Promise<{ mfaToken: string; methods: string[] }> {
  const result = await gql(LOGIN_WITH_DELIVERY, { password: PASSWORD, ...input });
  const error = result.errors?.[0];
  if (error?.extensions?.code !== 'MFA_REQUIRED') throw new Error(`expected MFA_REQUIRED: ${JSON.stringify(result.errors)}`);
  return { mfaToken: error.extensions['mfaToken'] as string, methods: error.extensions['methods'] as string[] };
}

export function completeLogin(gql: Gql, mfaToken: string, code: string): Promise<GqlResult> {
  return gql(COMPLETE_LOGIN, { mfaToken, code });
}

/** The claims of a JWT, unverified (the tests read what the server signed). */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}
