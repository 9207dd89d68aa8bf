/**
 * The one table of error codes that clients see in `extensions.code` (and, for the WebSocket
 * transport's refusals, in transportRefusals below). Domain services throw AuthError; the GraphQL
 * layer turns it into a GraphQLError and masks everything else as INTERNAL_SERVER_ERROR.
 */
export const errorMessages = {
  UNAUTHENTICATED: 'An access token is required.',
  TOKEN_EXPIRED: 'The access token has expired.',
  INVALID_TOKEN: 'The access token is invalid.',
  SESSION_REVOKED: 'The session of this access token has ended.',
  INVALID_CREDENTIALS: 'The email or password is incorrect.',
  EMAIL_TAKEN: 'An account with this email already exists.',
  BAD_USER_INPUT: 'The input is invalid.',
  INVALID_REFRESH_TOKEN: 'The refresh token is invalid or its session has ended.',
  REFRESH_TOKEN_REUSED: 'The refresh token was already used; the session has been ended.',
  REFRESH_TOKEN_ROTATED: 'The refresh token was just rotated; use its successor.',
  NOT_FOUND: 'Not found.',
  RATE_LIMITED: 'Too many attempts; try again later.',
  BAD_REQUEST: 'The request is malformed.',
  UNSUPPORTED_MEDIA_TYPE: 'Send GraphQL requests as application/json.',
  REQUEST_ENTITY_TOO_LARGE: 'The request body is too large.',
  GRAPHQL_PARSE_FAILED: 'The GraphQL document could not be parsed.',
  GRAPHQL_VALIDATION_FAILED: 'The GraphQL document is invalid for this schema or exceeds a limit.',
  OPERATION_RESOLUTION_FAILURE: 'Which operation of the document to run could not be determined.',
  SERVICE_UNAVAILABLE: 'The service is temporarily unavailable.',
  CSRF_HEADER_REQUIRED: 'Send the x-graphql-yoga-csrf header, or POST as application/json.',
  INVALID_EMAIL_TOKEN: 'The link is invalid, expired, already used or replaced by a newer one.',
  ORIGIN_NOT_ALLOWED: 'The refresh cookie may be used only from this server\'s own origin or one of CORS_ORIGINS.',
  MFA_REQUIRED: 'A second factor is required: complete the sign-in with extensions.mfaToken.',
  INVALID_MFA_CODE: 'The authentication code is incorrect.',
  INVALID_MFA_TOKEN: 'The mfaToken is unknown, expired or already used.',
  REAUTHENTICATION_REQUIRED: 'This change needs a recent proof: call reauthenticate first.',
  CHALLENGE_EXPIRED: 'The challenge is unknown, expired or already used.',
  PASSKEY_REJECTED: 'The passkey response does not verify.',
  /** yoga's masked error: its message is yoga's own. */
  INTERNAL_SERVER_ERROR: 'Unexpected error.',
} as const;

export type ErrorCode = keyof typeof errorMessages;

/**
 * Refusals outside GraphQL, where there is no `extensions.code`: a WebSocket close frame's reason
 * (code 4403) or an upgrade's 403 body. Each is keyed by the code it stands for; the texts are the
 * contract clients match on.
 */
export const transportRefusals = {
  SESSION_REVOKED: 'Session revoked',
  TOKEN_EXPIRED: 'Token expired',
  ORIGIN_NOT_ALLOWED: 'Origin not allowed',
} as const satisfies Partial<Record<ErrorCode, string>>;

export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly code: ErrorCode,
    message: string = errorMessages[code],
    /** Extra fields for `extensions`, e.g. `{ field: 'email' }`. Never secrets. */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

export function badInput(field: string, message: string): AuthError {
  return new AuthError('BAD_USER_INPUT', message, { field });
}
