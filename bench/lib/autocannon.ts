import autocannon from 'autocannon';

export type AutocannonOptions = autocannon.Options;

export type CannonResult = autocannon.Result & {
  /**
   * Seconds from the start to the last response. autocannon's own `duration` ends at its next
   * sampling tick (every second) after the last response: a run of a fixed `amount` of requests
   * that took 1.2 s reported 2.01 s, which made every rate measured that way a step function.
   */
  readonly elapsedSeconds: number;
};

/** autocannon as a library, as a promise; refuses a run in which any request failed at the HTTP level. */
export async function cannon(options: autocannon.Options): Promise<CannonResult> {
  const started = performance.now();
  let lastResponse = started;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({ timeout: 30, ...options }, (error, done) => (error ? reject(error) : resolve(done)));
    instance.on('response', () => {
      lastResponse = performance.now();
    });
  });
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0) {
    throw new Error(
      `autocannon saw ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx answers against ${options.url}`,
    );
  }
  return { ...result, elapsedSeconds: (lastResponse - started) / 1000 };
}

/** A JSON GraphQL POST as autocannon sends it. */
export function graphqlRequest(
  body: { query: string; variables?: Record<string, unknown> },
  headers: Record<string, string> = {},
): autocannon.Request {
  return {
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify(body),
  };
}
