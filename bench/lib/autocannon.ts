import autocannon from 'autocannon';

export type AutocannonOptions = autocannon.Options;
export type AutocannonResult = autocannon.Result;

/** autocannon as a library, as a promise; refuses a run in which any request failed at the HTTP level. */
export async function cannon(options: autocannon.Options): Promise<autocannon.Result> {
  const result = await autocannon({ timeout: 30, ...options });
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0) {
    throw new Error(
      `autocannon saw ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx answers against ${options.url}`,
    );
  }
  return result;
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
