import { bump, now } from './util.js';

/** The product's promise: every request answers (SERVICE_UNAVAILABLE at worst) within 5 s. */
export const ANSWER_BOUND_MS = 5_000;
/** A request still unanswered this long is abandoned, so that one hang does not stall its worker. */
const ABANDON_MS = 20_000;

export interface Answer<T> {
  /** Data and no errors. */
  readonly ok: boolean;
  readonly data?: T;
  /** The first error's extensions.code; NETWORK when no HTTP answer came (refused, reset, abandoned). */
  readonly code?: string;
  /** When it was sent and answered, on the soak's clock. */
  readonly sentAt: number;
  readonly answeredAt: number;
}

export interface SlowRequest {
  readonly kind: string;
  readonly instance: string;
  readonly ms: number;
  /** Seconds into the soak when it was sent. */
  readonly sentAtS: number;
  readonly outcome: string;
}

/** GraphQL over HTTP to the instances, counting every request and timing every answer. */
export class Requests {
  readonly sent: Record<string, number> = {};
  readonly outcomes: Record<string, number> = {};
  readonly slow: SlowRequest[] = [];
  maxMs = 0;
  #inFlight = 0;

  constructor(private readonly startedAt: number) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  async gql<T>(
    target: { name: string; url: string },
    kind: string,
    query: string,
    variables: Record<string, unknown> = {},
    token?: string,
  ): Promise<Answer<T>> {
    bump(this.sent, kind);
    this.#inFlight += 1;
    const sentAt = now();
    let outcome: Omit<Answer<T>, 'sentAt' | 'answeredAt'>;
    try {
      const response = await fetch(`${target.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(ABANDON_MS),
      });
      const body = (await response.json()) as { data?: T; errors?: { extensions?: { code?: string } }[] };
      outcome = body.errors?.length
        ? { ok: false, code: body.errors[0]!.extensions?.code ?? 'NO_CODE' }
        : { ok: true, data: body.data };
    } catch (error) {
      const abandoned = error instanceof Error && error.name === 'TimeoutError';
      outcome = { ok: false, code: abandoned ? 'ABANDONED' : 'NETWORK' };
    } finally {
      this.#inFlight -= 1;
    }
    const answeredAt = now();
    const ms = answeredAt - sentAt;
    this.maxMs = Math.max(this.maxMs, ms);
    const label = outcome.ok ? 'ok' : outcome.code!;
    bump(this.outcomes, `${kind} ${label}`);
    if (ms > ANSWER_BOUND_MS) {
      this.slow.push({
        kind,
        instance: target.name,
        ms: Math.round(ms),
        sentAtS: Math.round((sentAt - this.startedAt) / 100) / 10,
        outcome: label,
      });
    }
    return { ...outcome, sentAt, answeredAt };
  }
}
