/** GraphQL over HTTP from the page: same origin, so the refresh cookie goes along by itself. */

export const GRAPHQL_ENDPOINT = '/graphql';

export class GraphQLFailure extends Error {
  constructor(
    readonly code: string | undefined,
    message: string,
    /** The error's other extensions (MFA_REQUIRED's mfaToken and methods). */
    readonly extensions: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; [key: string]: unknown } }[];
}

export async function graphql<T>(
  query: string,
  variables: Record<string, unknown> = {},
  accessToken?: string,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(GRAPHQL_ENDPOINT, {
      method: 'POST',
      // Same origin only: the refresh cookie never leaves for another origin from this page.
      credentials: 'same-origin',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new GraphQLFailure('NETWORK_ERROR', 'The server cannot be reached. Check your connection.');
  }
  let body: GraphQLResponse<T>;
  try {
    body = (await response.json()) as GraphQLResponse<T>;
  } catch {
    throw new GraphQLFailure('BAD_RESPONSE', `The server answered ${response.status}.`);
  }
  const error = body.errors?.[0];
  if (error) throw new GraphQLFailure(error.extensions?.code, error.message, error.extensions ?? {});
  if (!body.data) throw new GraphQLFailure('BAD_RESPONSE', 'The server answered without data.');
  return body.data;
}

const AUTH_FIELDS = 'accessToken accessTokenExpiresAt user { email } session { id }';

export interface AuthPayload {
  accessToken: string;
  accessTokenExpiresAt: string;
  user: { email: string };
  session: { id: string };
}

export interface Credentials {
  email: string;
  password: string;
  deviceName: string;
}

export const documents = {
  signUp: `mutation SignUp($email: String!, $password: String!, $deviceName: String) {
    signUp(email: $email, password: $password, deviceName: $deviceName, delivery: COOKIE) { ${AUTH_FIELDS} }
  }`,
  login: `mutation LogIn($email: String!, $password: String!, $deviceName: String) {
    login(email: $email, password: $password, deviceName: $deviceName, delivery: COOKIE) { ${AUTH_FIELDS} }
  }`,
  // No argument: the server spends the HttpOnly cookie and sets its successor.
  refresh: `mutation Refresh { refresh { ${AUTH_FIELDS} } }`,
  logout: 'mutation LogOut { logout }',
  mySessions: 'query MySessions { mySessions { id current deviceName userAgent ip lastUsedAt } }',
  revokeDevice: 'mutation RevokeDevice($sessionId: ID!) { revokeDevice(sessionId: $sessionId) }',
  revokeOtherSessions: 'mutation RevokeOtherSessions { revokeOtherSessions }',
  // The second step of a log-in: the session gets the first step's delivery (COOKIE).
  completeLogin: `mutation CompleteLogin($mfaToken: String!, $code: String!) {
    completeLogin(mfaToken: $mfaToken, code: $code) { ${AUTH_FIELDS} }
  }`,
  reauthenticate: `mutation Reauthenticate($password: String, $code: String) {
    reauthenticate(password: $password, code: $code, delivery: COOKIE) { ${AUTH_FIELDS} }
  }`,
  mySecurity: 'query MySecurity { mySecurity { totpEnabled recoveryCodesLeft } }',
  startTotpEnrollment: 'mutation StartTotpEnrollment { startTotpEnrollment { secret qrCodeSvg } }',
  confirmTotpEnrollment: 'mutation ConfirmTotpEnrollment($code: String!) { confirmTotpEnrollment(code: $code) }',
  disableTotp: 'mutation DisableTotp($code: String!) { disableTotp(code: $code) }',
  regenerateRecoveryCodes: 'mutation RegenerateRecoveryCodes { regenerateRecoveryCodes }',
  sessionRevoked: 'subscription SessionRevoked { sessionRevoked { sessionId reason current } }',
} as const;

export interface SessionRow {
  id: string;
  current: boolean;
  deviceName: string | null;
  userAgent: string | null;
  ip: string | null;
  lastUsedAt: string;
}
