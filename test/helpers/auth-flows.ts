import { codes, type Gql } from './gql.js';

export const PASSWORD = 'correct horse battery';

export const AUTH_FIELDS = `accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt
  user { id email createdAt } session { id current deviceName userAgent ip createdAt lastUsedAt expiresAt }`;

export interface Payload {
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  refreshTokenExpiresAt: string;
  user: { id: string; email: string; createdAt: string };
  session: {
    id: string;
    current: boolean;
    deviceName: string | null;
    userAgent: string | null;
    ip: string | null;
    createdAt: string;
    lastUsedAt: string;
    expiresAt: string;
  };
}

let counter = 0;
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}-${counter}-${crypto.randomUUID().slice(0, 8)}@example.com`;
}

async function expectPayload(gql: Gql, query: string, variables: Record<string, unknown>, field: string) {
  const result = await gql(query, variables);
  if (result.errors) throw new Error(`${field} failed: ${JSON.stringify(result.errors)}`);
  return result.data![field] as Payload;
}

export const SIGN_UP = `mutation ($email: String!, $password: String!, $deviceName: String) {
  signUp(email: $email, password: $password, deviceName: $deviceName) { ${AUTH_FIELDS} } }`;
export const LOGIN = `mutation ($email: String!, $password: String!, $deviceName: String) {
  login(email: $email, password: $password, deviceName: $deviceName) { ${AUTH_FIELDS} } }`;

/** Signs up (a new unique email unless given), throwing unless it succeeds: for a test's setup. */
export function signUp(gql: Gql, input: { email?: string; password?: string; deviceName?: string } = {}) {
  const variables = { email: input.email ?? uniqueEmail(), password: input.password ?? PASSWORD, deviceName: input.deviceName };
  return expectPayload(gql, SIGN_UP, variables, 'signUp');
}

/** Logs in, throwing unless it succeeds: for a test's setup. */
export function login(gql: Gql, input: { email: string; password?: string; deviceName?: string }) {
  const variables = { email: input.email, password: input.password ?? PASSWORD, deviceName: input.deviceName };
  return expectPayload(gql, LOGIN, variables, 'login');
}

export const REFRESH = `mutation ($refreshToken: String) { refresh(refreshToken: $refreshToken) { ${AUTH_FIELDS} } }`;

export function refresh(gql: Gql, refreshToken: string) {
  return expectPayload(gql, REFRESH, { refreshToken }, 'refresh');
}

/** The error codes of a refresh (with the cookie when refreshToken is null). */
export const refreshCodes = async (gql: Gql, refreshToken: string | null) =>
  codes(await gql(REFRESH, refreshToken === null ? {} : { refreshToken }));

/** The error codes of `me` with this access token. */
export const meCodes = async (gql: Gql, token: string) => codes(await gql('{ me { id } }', {}, { token }));

/** One user signed in on two devices, a laptop and a phone. */
export async function twoDevices(gql: Gql) {
  const email = uniqueEmail();
  const laptop = await signUp(gql, { email, deviceName: 'laptop' });
  const phone = await login(gql, { email, deviceName: 'phone' });
  return { email, laptop, phone };
}
