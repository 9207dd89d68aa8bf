import type { IssuedTokens } from '../auth/service.js';
import { AuthError, badInput, type ErrorCode } from '../errors.js';
import type { GraphQLContext } from './context.js';

export const tokenDeliveries = ['BODY', 'COOKIE'] as const;
export type TokenDelivery = (typeof tokenDeliveries)[number];

/** AuthPayload: the refresh token is null when it went into the cookie instead. */
export type AuthPayload = Omit<IssuedTokens, 'refreshToken'> & { readonly refreshToken: string | null };

/** Refusals after which the cookie's token can never work again: expire the cookie with them. */
const SESSION_ENDED = new Set<ErrorCode>(['INVALID_REFRESH_TOKEN', 'REFRESH_TOKEN_REUSED']);

/**
 * Issues tokens and hands over the refresh token as asked. Checked before anything happens: a
 * session started over graphql-ws with COOKIE delivery would lose its only refresh token.
 */
export async function deliverTokens(
  ctx: GraphQLContext,
  delivery: TokenDelivery | null | undefined,
  issue: () => Promise<IssuedTokens>,
  options: { startsNewSession?: boolean } = {},
): Promise<AuthPayload> {
  if (delivery === 'COOKIE' && !ctx.refreshCookie.writable) {
    throw badInput('delivery', 'COOKIE delivery needs a request over HTTP.');
  }
  const tokens = await issue();
  if (delivery !== 'COOKIE') return tokens;
  if (options.startsNewSession) await endReplacedSession(ctx);
  ctx.refreshCookie.set(tokens.refreshToken, tokens.refreshTokenExpiresAt);
  return { ...tokens, refreshToken: null };
}

/**
 * A login or sign-up in a browser that already holds a refresh cookie replaces it: the session of
 * the replaced cookie would live on with nobody holding its token, so it ends (LOGOUT). Holding
 * the token is enough to end its session, as for logout. Best effort: the new session stands.
 */
async function endReplacedSession(ctx: GraphQLContext): Promise<void> {
  try {
    const replaced = ctx.refreshCookie.take();
    if (replaced) await ctx.auth.endSessionOfRefreshToken(replaced, ctx.client);
  } catch {
    // An origin not allowed to spend the cookie, or the database failing now: the old session then
    // ends as any abandoned one does, at its idle timeout.
  }
}

/** refresh(refreshToken): the argument (body delivery) or else the cookie, whose successor replaces it. */
export async function refreshTokens(ctx: GraphQLContext, refreshToken: string | null | undefined): Promise<AuthPayload> {
  if (refreshToken) return ctx.auth.refresh(refreshToken, ctx.client);
  const fromCookie = ctx.refreshCookie.take();
  if (!fromCookie) return ctx.auth.refresh(null, ctx.client);
  try {
    return await deliverTokens(ctx, 'COOKIE', () => ctx.auth.refresh(fromCookie, ctx.client));
  } catch (error) {
    if (error instanceof AuthError && SESSION_ENDED.has(error.code)) ctx.refreshCookie.clear();
    throw error;
  }
}

/**
 * logout(refreshToken): the cookie stands in for a missing argument, and is expired whatever the outcome.
 * An empty argument is a missing one: else the cookie would be expired while its session lived on.
 */
export async function logout(ctx: GraphQLContext, refreshToken: string | null | undefined): Promise<boolean> {
  const given = refreshToken || null;
  const fromCookie = given ? null : ctx.refreshCookie.take();
  try {
    return await ctx.auth.logout(ctx.authentication, given ?? fromCookie, ctx.client);
  } finally {
    if (fromCookie) ctx.refreshCookie.clear();
  }
}
