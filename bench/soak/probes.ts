import type { Requests } from './client.js';
import type { Instance } from './instances.js';
import type { Ledger, TrackedSession } from './ledger.js';
import { ME } from './operations.js';
import { bump, pick, sleep } from './util.js';

const REFRESH = 'mutation ($refreshToken: String!) { refresh(refreshToken: $refreshToken) { refreshToken } }';
/** Probes of the final sweep at once: the whole list of ended sessions times every instance. */
const SWEEP_CONCURRENCY = 8;

/**
 * After each acknowledged end: its refresh token tried at once (the database has the end: it must be
 * refused), then, once the propagation bound has passed, its access token on every instance that is
 * up and its refresh token once more. Every acceptance is a violation, recorded in the ledger.
 */
export class Probes {
  readonly #pending = new Set<Promise<void>>();
  readonly finalOutcomes: Record<string, number> = {};

  constructor(
    private readonly deps: {
      requests: Requests;
      ledger: Ledger;
      upInstances: () => Instance[];
      boundMs: number;
    },
  ) {}

  afterEnd(session: TrackedSession): void {
    const run = this.#probe(session).finally(() => this.#pending.delete(run));
    this.#pending.add(run);
  }

  async #probe(session: TrackedSession): Promise<void> {
    await this.#refresh(session);
    await sleep(Math.max(0, session.endAckedAt! + this.deps.boundMs - performance.now()));
    await Promise.all(
      this.deps.upInstances().map(async (instance) => {
        const { outcome, sentAt } = await this.#me(session, instance, 'probe me');
        // A probe of an instance killed meanwhile got no answer from it: not a refusal, not an acceptance.
        if (outcome !== 'NETWORK') this.deps.ledger.probed(session, instance.name, sentAt, outcome);
      }),
    );
    await this.#refresh(session);
  }

  async #me(session: TrackedSession, instance: Instance, kind: string): Promise<{ outcome: string; sentAt: number }> {
    const answer = await this.deps.requests.gql(instance, kind, ME, {}, session.accessToken);
    return { outcome: answer.ok ? 'ACCEPTED' : answer.code!, sentAt: answer.sentAt };
  }

  async #refresh(session: TrackedSession): Promise<void> {
    const up = this.deps.upInstances();
    if (up.length === 0) return;
    const instance = pick(up);
    const answer = await this.deps.requests.gql(instance, 'probe refresh', REFRESH, {
      refreshToken: session.refreshToken,
    });
    this.deps.ledger.endedRefresh(session, instance.name, answer.sentAt, answer.ok ? 'ok' : answer.code!);
  }

  /** Waits for the probes still under way. */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** Once the load has stopped and every instance is up: every ended session's token, everywhere. */
  async sweep(sessions: TrackedSession[], instances: Instance[]): Promise<void> {
    const jobs = sessions.flatMap((session) => instances.map((instance) => ({ session, instance })));
    const worker = async () => {
      for (let job = jobs.pop(); job; job = jobs.pop()) {
        const { outcome, sentAt } = await this.#me(job.session, job.instance, 'final probe me');
        bump(this.finalOutcomes, outcome);
        if (outcome === 'ACCEPTED') {
          this.deps.ledger.acceptedLate.push({
            what: 'access token accepted at the final sweep',
            sessionId: job.session.id,
            instance: job.instance.name,
            afterAckMs: Math.round(sentAt - job.session.endAckedAt!),
            atS: this.deps.ledger.secondsAt(sentAt),
            detail: job.session.endKind,
          });
        }
      }
    };
    await Promise.all(Array.from({ length: SWEEP_CONCURRENCY }, worker));
  }
}
