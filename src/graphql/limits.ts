import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import type { ServerResponse } from 'node:http';
import type { GraphQLError, ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { codedError } from './coded-error.js';

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

/** graphql-armor's validation rules and parse limit. */
export function useDocumentLimits(): Plugin[] {
  return [
    // A parse error (GRAPHQL_PARSE_FAILED), raised while lexing: a huge document is never fully read.
    maxTokensPlugin({ n: documentLimits.tokens }),
    maxDepthPlugin({ n: documentLimits.depth, ...asValidationError }),
    maxAliasesPlugin({ n: documentLimits.aliases, ...asValidationError }),
    maxDirectivesPlugin({ n: documentLimits.directives, ...asValidationError }),
  ] as Plugin[];
}

/**
 * GraphQL over HTTP as we serve it: POST with `application/json` (UTF-8), or GET for queries. Other
 * body types (forms above all) are what a cross-site page can send without a preflight: 415. Invalid
 * UTF-8 is refused rather than read with replacement characters, so what is hashed is what was sent.
 * The body limit (413) is counted here as the body is read: yoga's own pipes every body through a
 * TransformStream, which costs more than executing a small operation.
 */
export function useStrictRequestFormat(options: { maxBodyBytes: number }): Plugin<Record<string, unknown>, { res?: ServerResponse }> {
  const limit = options.maxBodyBytes;
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI, serverContext }) {
      if (request.method !== 'POST') return;
      if (!isJsonContentType(request.headers.get('content-type'))) {
        throw codedError('UNSUPPORTED_MEDIA_TYPE', { status: 415 });
      }
      const contentLength = request.headers.get('content-length');
      if (contentLength !== null) {
        // Only one non-negative integer: a list ("10, 20") is how request smuggling starts.
        if (!/^\d+$/.test(contentLength)) {
          throw codedError('BAD_REQUEST', { message: 'Content-Length header is invalid.', status: 400 });
        }
        if (Number(contentLength) > limit) throw bodyTooLarge();
      }
      if (!requestParser) return;
      const parseJson = requestParser;
      setRequestParser(async (received) => {
        const bytes = await readLimited(received, limit, () => {
          // The rest of the upload is never read: the connection closes once the 413 has gone out.
          if (serverContext.res) serverContext.res.shouldKeepAlive = false;
        });
        let text: string;
        try {
          text = utf8.decode(bytes);
        } catch {
          throw codedError('BAD_REQUEST', { message: 'The request body is not valid UTF-8.', status: 400 });
        }
        return parseJson(
          new fetchAPI.Request(received.url, { method: 'POST', headers: received.headers, body: text }),
        );
      });
    },
  };
}

/** Fatal: invalid UTF-8 throws instead of becoming U+FFFD. Stateless between calls without `stream`. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

function bodyTooLarge(): GraphQLError {
  return codedError('REQUEST_ENTITY_TOO_LARGE', { message: 'Request body too large', status: 413 });
}

/**
 * The whole body, counted as it streams. Past the limit, reading stops and `onTooLarge` runs; the
 * stream is left as it is rather than cancelled, which would destroy the socket before the 413
 * could go out.
 */
async function readLimited(request: Request, limit: number, onTooLarge: () => void): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      reader.releaseLock();
      onTooLarge();
      throw bodyTooLarge();
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** `application/json`, with at most a UTF-8 charset parameter. */
function isJsonContentType(header: string | null): boolean {
  if (!header) return false;
  const [type, ...parameters] = header.split(';').map((part) => part.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return parameters.every((parameter) => parameter === '' || /^charset="?utf-8"?$/.test(parameter));
}
