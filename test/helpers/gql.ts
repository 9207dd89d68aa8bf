/** GraphQL over HTTP through any fetch (yoga.fetch in process, or a real one against a port). */

export interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

export interface GqlResult<T = Record<string, any>> {
  status: number;
  data: T | null | undefined;
  errors: GqlError[] | undefined;
  headers: Headers;
}

export interface GqlOptions {
  token?: string;
  headers?: Record<string, string>;
}

export type Gql = <T = Record<string, any>>(
  query: string,
  variables?: Record<string, unknown>,
  options?: GqlOptions,
) => Promise<GqlResult<T>>;

type Fetch = (url: string, init: RequestInit) => Promise<Response> | Response;

export function createGql(fetch: Fetch, baseUrl = 'http://localhost'): Gql {
  return async (query, variables = {}, options = {}) => {
    const response = await fetch(`${baseUrl}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: any; errors?: GqlError[] };
    return { status: response.status, data: body.data, errors: body.errors, headers: response.headers };
  };
}

/** The codes of a result's errors, for exact assertions. */
export function codes(result: GqlResult): (string | undefined)[] {
  return (result.errors ?? []).map((error) => error.extensions?.code);
}
