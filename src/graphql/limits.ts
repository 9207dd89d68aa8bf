import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { GraphQLError, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * What one request may ask for. Our documents are small (the deepest field a client needs is at
 * depth 3); the limits leave room for that and nothing for multiplying work or password guesses
 * inside one document: fifty aliased `login`s are refused before anything executes.
 */
export const documentLimits = {
  aliases: 10,
  depth: 8,
  tokens: 1000,
  directives: 10,
} as const;

/**
 * Reported as validation errors (GRAPHQL_VALIDATION_FAILED, 400) rather than thrown: a rule that
 * throws aborts validation and its error reaches the client as if execution had failed.
 */
const asValidationError = {
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
};

/** graphql-armor's validation rules and parse limit; field suggestions hidden outside development. */
export function useDocumentLimits(options: { hideSuggestions: boolean }): Plugin[] {
  return [
    // A parse error (GRAPHQL_PARSE_FAILED), raised while lexing: a huge document is never fully read.
    maxTokensPlugin({ n: documentLimits.tokens }),
    maxDepthPlugin({ n: documentLimits.depth, ...asValidationError }),
    maxAliasesPlugin({ n: documentLimits.aliases, ...asValidationError }),
    maxDirectivesPlugin({ n: documentLimits.directives, ...asValidationError }),
    ...(options.hideSuggestions ? [blockFieldSuggestionsPlugin()] : []),
  ] as Plugin[];
}

/**
 * GraphQL over HTTP as we serve it: POST with `application/json` (UTF-8), or GET for queries.
 * yoga also parses `application/graphql`, url-encoded forms and multipart; forms are what a
 * cross-site page can send without a preflight, and none of them is needed, so they are refused
 * with 415 and a code. A body that is not valid UTF-8 is refused rather than read with
 * replacement characters, so that what is hashed is what the client sent.
 */
export function useStrictRequestFormat(): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      if (request.method !== 'POST') return;
      if (!isJsonContentType(request.headers.get('content-type'))) {
        throw new GraphQLError('Send GraphQL requests as application/json.', {
          extensions: { code: 'UNSUPPORTED_MEDIA_TYPE', http: { status: 415 } },
        });
      }
      if (!requestParser) return;
      const parseJson = requestParser;
      setRequestParser(async (limited) => {
        const bytes = await limited.arrayBuffer();
        let text: string;
        try {
          text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        } catch {
          throw new GraphQLError('The request body is not valid UTF-8.', {
            extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
          });
        }
        return parseJson(
          new fetchAPI.Request(limited.url, { method: 'POST', headers: limited.headers, body: text }),
        );
      });
    },
  };
}

/** `application/json`, with at most a UTF-8 charset parameter. */
function isJsonContentType(header: string | null): boolean {
  if (!header) return false;
  const [type, ...parameters] = header.split(';').map((part) => part.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return parameters.every((parameter) => parameter === '' || /^charset="?utf-8"?$/.test(parameter));
}
