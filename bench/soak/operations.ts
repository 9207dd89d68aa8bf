import type { Answer, Requests } from './client.js';
import type { Instance } from './instances.js';
import type { Ledger, TrackedSession } from './ledger.js';
import { limiter, pick } from './util.js';

/** One account of the load, owned by one worker: its operations never overlap. */
export interface User {
  readonly id: string;
  readonly email: string;
  password: string;
  /** A password change went unanswered: which password holds is unknown, so no more logins. */
  passwordUnknown?: boolean;
}

export interface LoadContext {
  readonly requests: Requests;
  readonly ledger: Ledger;
  /** Instances running and answering now. */
  upInstances(): Instance[];
  /** Called once per acknowledged end: the probes after the propagation bound. */
  onEndAcknowledged(session: TrackedSession): void;
}

interface Payload {
  accessToken: string;
  refreshToken: string;
  session: { id: string };
  user: { id: string };
}

const PAYLOAD = 'accessToken refreshToken session { id } user { id }';
const SIGN_UP = `mutation ($email: String!, $password: String!) { signUp(email: $email, password: $password, deviceName: "soak") { ${PAYLOAD} } }`;
const LOGIN = `mutation ($email: String!, $password: String!) { login(email: $email, password: $password, deviceName: "soak") { ${PAYLOAD} } }`;
const REFRESH = `mutation ($refreshToken: String!) { refresh(refreshToken: $refreshToken) { ${PAYLOAD} } }`;
const LOGOUT = 'mutation ($refreshToken: String) { logout(refreshToken: $refreshToken) }';
const REVOKE_DEVICE = 'mutation ($sessionId: ID!) { revokeDevice(sessionId: $sessionId) }';
const REVOKE_OTHERS = 'mutation { revokeOtherSessions }';
const CHANGE_PASSWORD = `mutation ($currentPassword: String!, $newPassword: String!) {
  changePassword(currentPassword: $currentPassword, newPassword: $newPassword) { ${PAYLOAD} } }`;
export const ME = '{ me { id } }';

/** Answers after which the outcome is unknown: the change may or may not have committed. */
const UNKNOWN = new Set(['NETWORK', 'ABANDONED', 'SERVICE_UNAVAILABLE', 'INTERNAL_SERVER_ERROR', 'NO_CODE']);
export const isUnknown = (answer: Answer<unknown>) => !answer.ok && UNKNOWN.has(answer.code!);

/**
 * Sign-ups, logins and password changes hash a password (tens of ms of CPU each): at most two at
 * once, so that the soak measures faults rather than a CPU the shared machine cannot give.
 */
const hashing = limiter(2);

const direct = <T>(task: () => Promise<T>) => task();

const newPassword = () => `soak ${crypto.randomUUID()} tide`;

function target(ctx: LoadContext): Instance | undefined {
  const up = ctx.upInstances();
  return up.length > 0 ? pick(up) : undefined;
}

export function signUp(ctx: LoadContext): Promise<User | undefined> {
  return hashing(async () => {
    const instance = target(ctx);
    if (!instance) return undefined;
    const email = `soak-${crypto.randomUUID()}@soak.example`;
    const password = newPassword();
    const answer = await ctx.requests.gql<{ signUp: Payload }>(instance, 'signUp', SIGN_UP, { email, password });
    if (!answer.ok) return undefined;
    const payload = answer.data!.signUp;
    track(ctx, payload);
    return { id: payload.user.id, email, password };
  });
}

export function login(ctx: LoadContext, user: User): Promise<void> {
  return hashing(async () => {
    const instance = target(ctx);
    if (!instance || user.passwordUnknown) return;
    const variables = { email: user.email, password: user.password };
    const answer = await ctx.requests.gql<{ login: Payload }>(instance, 'login', LOGIN, variables);
    if (answer.ok) track(ctx, answer.data!.login);
  });
}

function track(ctx: LoadContext, payload: Payload): TrackedSession {
  return ctx.ledger.track({
    id: payload.session.id,
    userId: payload.user.id,
    accessToken: payload.accessToken,
    refreshToken: payload.refreshToken,
  });
}

export async function me(ctx: LoadContext, session: TrackedSession): Promise<void> {
  const instance = target(ctx);
  if (!instance) return;
  const answer = await ctx.requests.gql(instance, 'me', ME, {}, session.accessToken);
  // A live session refused: ended in a way we were not told of (an unanswered logout ending later).
  if (!answer.ok && answer.code === 'SESSION_REVOKED') ctx.ledger.retire(session, 'me refused a live session');
}

/**
 * Spends the session's refresh token, or `presented` (a spent one, replayed on purpose). With
 * `twice`, the same token goes to two instances at once, as two tabs might send it.
 */
export async function refresh(
  ctx: LoadContext,
  session: TrackedSession,
  how: { twice?: boolean; presented?: string } = {},
): Promise<void> {
  const up = ctx.upInstances();
  if (up.length === 0) return;
  const presented = how.presented ?? session.refreshToken;
  const first = pick(up);
  const targets = how.twice
    ? [first, pick(up.filter((i) => i !== first).concat(up.length === 1 ? [first] : []))]
    : [first];
  const kind = how.twice ? 'refresh concurrent' : how.presented ? 'refresh replayed' : 'refresh';
  const answers = await Promise.all(
    targets.map(async (instance) => ({
      instance,
      answer: await ctx.requests.gql<{ refresh: Payload }>(instance, kind, REFRESH, { refreshToken: presented }),
    })),
  );
  const successors = new Set<string>();
  for (const { instance, answer } of answers) {
    if (answer.ok) {
      const payload = answer.data!.refresh;
      ctx.ledger.refreshed(session, answer.sentAt, instance.name);
      successors.add(payload.refreshToken);
      if (payload.refreshToken !== session.refreshToken) {
        if (presented === session.refreshToken) session.spent.push({ token: presented, at: answer.answeredAt });
        else if (!how.twice) recordFork(ctx, session, instance, 'a replayed spent token was rotated again');
        session.refreshToken = payload.refreshToken;
      }
      session.accessToken = payload.accessToken;
      session.refreshUnanswered = false;
    } else if (answer.code === 'REFRESH_TOKEN_REUSED') {
      // After an unanswered refresh, this is the false theft alarm of a lost response.
      const kind = how.presented
        ? 'refresh reuse (replayed)'
        : session.refreshUnanswered
          ? 'refresh reuse (lost answer)'
          : how.twice
            ? 'refresh reuse (concurrent, one past the grace)'
            : 'refresh reuse';
      if (ctx.ledger.ackEnd(session, kind, answer.sentAt, answer.answeredAt)) ctx.onEndAcknowledged(session);
    } else if (answer.code === 'INVALID_REFRESH_TOKEN') {
      ctx.ledger.retire(session, 'refresh refused a live session');
    } else if (answer.code === 'REFRESH_TOKEN_ROTATED') {
      // Spent by a request whose answer never came: its successor is unknown to us for good.
      if (!how.twice && !how.presented) ctx.ledger.retire(session, 'refresh ROTATED after a lost answer');
    } else if (isUnknown(answer)) {
      if (!how.presented && !answers.some((other) => other.answer.ok)) session.refreshUnanswered = true;
    } else {
      ctx.ledger.retire(session, `refresh answered ${answer.code}`);
    }
  }
  if (successors.size > 1) recordFork(ctx, session, first, 'one token rotated into two successors');
}

function recordFork(ctx: LoadContext, session: TrackedSession, instance: Instance, detail: string): void {
  ctx.ledger.forks.push({ what: 'refresh family forked', sessionId: session.id, instance: instance.name, detail });
}

export async function logout(ctx: LoadContext, session: TrackedSession): Promise<void> {
  const instance = target(ctx);
  if (!instance) return;
  const variables = Math.random() < 0.5 ? { refreshToken: session.refreshToken } : {};
  const answer = await ctx.requests.gql<{ logout: boolean }>(
    instance,
    'logout',
    LOGOUT,
    variables,
    session.accessToken,
  );
  if (answer.ok && answer.data!.logout) {
    if (ctx.ledger.ackEnd(session, 'logout', answer.sentAt, answer.answeredAt)) ctx.onEndAcknowledged(session);
  } else {
    ctx.ledger.retire(session, `logout answered ${answer.code ?? 'false'}`);
  }
}

export async function revokeDevice(ctx: LoadContext, caller: TrackedSession, victim: TrackedSession): Promise<void> {
  const instance = target(ctx);
  if (!instance) return;
  const answer = await ctx.requests.gql<{ revokeDevice: boolean }>(
    instance,
    'revokeDevice',
    REVOKE_DEVICE,
    { sessionId: victim.id },
    caller.accessToken,
  );
  if (answer.ok && answer.data!.revokeDevice) {
    if (ctx.ledger.ackEnd(victim, 'revokeDevice', answer.sentAt, answer.answeredAt)) ctx.onEndAcknowledged(victim);
  } else if (isUnknown(answer)) {
    ctx.ledger.retire(victim, `revokeDevice answered ${answer.code}`);
  } else if (answer.code === 'SESSION_REVOKED') {
    ctx.ledger.retire(caller, 'revokeDevice refused a live caller');
  }
}

/** Ends the user's other sessions: revokeOtherSessions, or a password change (which also rotates the caller's). */
export async function endOthers(
  ctx: LoadContext,
  user: User,
  caller: TrackedSession,
  others: TrackedSession[],
  how: 'revokeOtherSessions' | 'changePassword',
): Promise<void> {
  const password = newPassword();
  const send = (instance: Instance) =>
    how === 'changePassword'
      ? ctx.requests.gql<{ changePassword?: Payload }>(
          instance,
          how,
          CHANGE_PASSWORD,
          {
            currentPassword: user.password,
            newPassword: password,
          },
          caller.accessToken,
        )
      : ctx.requests.gql<{ changePassword?: Payload }>(instance, how, REVOKE_OTHERS, {}, caller.accessToken);
  const answer = await (how === 'changePassword' ? hashing : direct)(async () => {
    const instance = target(ctx);
    return instance ? send(instance) : undefined;
  });
  if (!answer) return;
  if (answer.ok) {
    for (const other of others) {
      if (ctx.ledger.ackEnd(other, how, answer.sentAt, answer.answeredAt)) ctx.onEndAcknowledged(other);
    }
    const payload = answer.data!.changePassword;
    if (payload) {
      user.password = password;
      caller.spent.push({ token: caller.refreshToken, at: answer.answeredAt });
      caller.refreshToken = payload.refreshToken;
      caller.accessToken = payload.accessToken;
    }
    return;
  }
  if (!isUnknown(answer)) return ctx.ledger.retire(caller, `${how} answered ${answer.code}`);
  // Unknown outcome: the others may have ended or not, and the caller's token may be spent.
  for (const other of others) ctx.ledger.retire(other, `${how} unanswered`);
  if (how === 'changePassword') {
    user.passwordUnknown = true;
    ctx.ledger.retire(caller, `${how} unanswered`);
  }
}
