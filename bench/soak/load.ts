import type { TrackedSession } from './ledger.js';
import {
  endOthers,
  login,
  logout,
  me,
  refresh,
  revokeDevice,
  signUp,
  type LoadContext,
  type User,
} from './operations.js';
import type { Subscribers } from './subscribers.js';
import { bump, now, pick, sleep } from './util.js';

export interface LoadOptions {
  /** Virtual clients, each with its own accounts and one operation at a time. */
  readonly workers: number;
  readonly usersPerWorker: number;
  /** Sessions per account the load keeps at most (logins stop there). */
  readonly sessionsPerUser: number;
  /** Pause between a worker's operations, ms (uniform between the two). */
  readonly thinkMs: readonly [number, number];
  /** Soak clock (ms) at which workers stop starting operations. */
  readonly until: number;
}

export interface LoadDeps extends LoadContext {
  readonly subscribers: Subscribers;
  /** Harness failures (bugs of the soak, not of the product), by message. */
  readonly harnessErrors: Record<string, number>;
}

type Step = (deps: LoadDeps, user: User, session: TrackedSession, live: TrackedSession[]) => Promise<void>;

/** Weighted operations on one live session of a user; `when` says whether it applies now. */
const STEPS: {
  weight: number;
  when?: (live: TrackedSession[], user: User, options: LoadOptions) => boolean;
  run: Step;
}[] = [
  { weight: 22, run: (deps, _user, session) => me(deps, session) },
  { weight: 22, run: (deps, _user, session) => refresh(deps, session) },
  { weight: 6, run: (deps, _user, session) => refresh(deps, session, { twice: true }) },
  {
    weight: 6,
    when: (live) => live.some((s) => s.spent.length > 0),
    run: async (deps, _user, _session, live) => {
      const session = pick(live.filter((s) => s.spent.length > 0));
      await refresh(deps, session, { presented: pick(session.spent).token });
    },
  },
  {
    weight: 10,
    when: (live, user, options) => live.length < options.sessionsPerUser && !user.passwordUnknown,
    run: (deps, user) => login(deps, user),
  },
  { weight: 10, run: (deps, _user, session) => logout(deps, session) },
  {
    weight: 6,
    when: (live) => live.length >= 2,
    run: (deps, _user, session, live) => revokeDevice(deps, session, pick(live.filter((s) => s !== session))),
  },
  {
    weight: 4,
    when: (live) => live.length >= 2,
    run: (deps, user, session, live) =>
      endOthers(
        deps,
        user,
        session,
        live.filter((s) => s !== session),
        'revokeOtherSessions',
      ),
  },
  {
    weight: 3,
    when: (_live, user) => !user.passwordUnknown,
    run: (deps, user, session, live) =>
      endOthers(
        deps,
        user,
        session,
        live.filter((s) => s !== session),
        'changePassword',
      ),
  },
];

/** Runs the workers until `options.until`; resolves when the last operation has answered. */
export async function runLoad(deps: LoadDeps, options: LoadOptions): Promise<void> {
  await Promise.all(Array.from({ length: options.workers }, () => worker(deps, options)));
}

async function worker(deps: LoadDeps, options: LoadOptions): Promise<void> {
  const users: User[] = [];
  // Spread the workers' first sign-ups: hashing passwords is the most expensive thing here.
  await sleep(Math.random() * 8000);
  while (now() < options.until) {
    try {
      await step(deps, options, users);
    } catch (error) {
      bump(deps.harnessErrors, error instanceof Error ? error.message : String(error));
    }
    const [min, max] = options.thinkMs;
    await sleep(min + Math.random() * (max - min));
  }
}

async function step(deps: LoadDeps, options: LoadOptions, users: User[]): Promise<void> {
  // Accounts whose password is unknown (a change went unanswered) and that have no live session are dropped.
  for (const user of [...users]) {
    if (user.passwordUnknown && deps.ledger.liveSessionsOf(user.id).length === 0) users.splice(users.indexOf(user), 1);
  }
  if (users.length < options.usersPerWorker) {
    const user = await signUp(deps);
    if (user) users.push(user);
    return;
  }
  const user = pick(users);
  const live = deps.ledger.liveSessionsOf(user.id);
  if (live.length === 0) return login(deps, user);
  const session = pick(live);
  // Every account has a subscriber listening, on some instance, whenever it can: they hear the ends.
  // Opening one is this step, so that it is listening before the account's next operation.
  const up = deps.upInstances();
  if (up.length > 0 && !deps.subscribers.hasOpen(user.id))
    return deps.subscribers.open(user.id, session.accessToken, pick(up));
  // A refresh that went unanswered is retried first, as a client would: its outcome decides the session's fate.
  if (session.refreshUnanswered) return refresh(deps, session);
  const steps = STEPS.filter((s) => !s.when || s.when(live, user, options));
  let roll = Math.random() * steps.reduce((sum, s) => sum + s.weight, 0);
  const chosen = steps.find((s) => (roll -= s.weight) < 0) ?? steps[0]!;
  await chosen.run(deps, user, session, live);
}
