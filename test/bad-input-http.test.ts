import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { useStartedApp } from './helpers/app.js';
import { expectRefusal, readAnswer, type RawAnswer } from './helpers/bad-input.js';

/** The default MAX_REQUEST_BODY_BYTES. */
const LIMIT = 65_536;
const QUERY = JSON.stringify({ query: '{ __typename }' });
/** A fresh object each time: whatwg-node's Request writes content-length into the record it is given. */
const jsonHeaders = () => ({ 'content-type': 'application/json', accept: 'application/json' });

const t = useStartedApp();

function inProcess(init: RequestInit, path = '/graphql'): Promise<RawAnswer> {
  return Promise.resolve(t.app.yoga.fetch(`http://localhost${path}`, init)).then(readAnswer);
}

function overTheNetwork(init: RequestInit, path = '/graphql'): Promise<RawAnswer> {
  return fetch(`${t.url}${path}`, init).then(readAnswer);
}

// After every bad request, the server still answers a good one, in process and over a socket.
afterEach(async () => {
  for (const send of [inProcess, overTheNetwork]) {
    const answer = await send({ method: 'POST', headers: jsonHeaders(), body: QUERY });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ data: { __typename: 'Query' } });
  }
});

describe('content types', () => {
  it.each([
    ['text/plain', 'text/plain'],
    ['a url-encoded form', 'application/x-www-form-urlencoded'],
    ['multipart form data', 'multipart/form-data; boundary=x'],
    ['application/graphql', 'application/graphql'],
    ['application/graphql+json', 'application/graphql+json'],
    ['JSON in another charset', 'application/json; charset=latin1'],
    ['XML', 'application/xml'],
  ])('refuses a POST of %s with 415 UNSUPPORTED_MEDIA_TYPE', async (_name, contentType) => {
    const answer = await inProcess({ method: 'POST', headers: { 'content-type': contentType }, body: QUERY });
    expectRefusal(answer, 'UNSUPPORTED_MEDIA_TYPE', 415);
  });

  it('refuses a POST without a content type with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const answer = await inProcess({ method: 'POST', body: new TextEncoder().encode(QUERY) });
    expectRefusal(answer, 'UNSUPPORTED_MEDIA_TYPE', 415);
  });

  it('refuses a form post over a real socket too, before running the mutation in it', async () => {
    const answer = await overTheNetwork({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `query=${encodeURIComponent('mutation { logout }')}`,
    });
    expectRefusal(answer, 'UNSUPPORTED_MEDIA_TYPE', 415);
  });

  it('accepts application/json with a UTF-8 charset', async () => {
    const answer = await inProcess({
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=UTF-8' },
      body: QUERY,
    });
    expect(answer.body).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('malformed bodies', () => {
  it.each([
    ['invalid JSON', '{"query":'],
    ['a JSON string', '"{ __typename }"'],
    ['JSON null', 'null'],
    ['a batch (an array of operations)', `[${QUERY},${QUERY}]`],
    ['variables that are not an object', JSON.stringify({ query: '{ __typename }', variables: 'x' })],
    ['an unknown parameter', JSON.stringify({ query: '{ __typename }', password: 'x' })],
  ])('refuses %s with 400 BAD_REQUEST', async (_name, body) => {
    expectRefusal(await inProcess({ method: 'POST', headers: jsonHeaders(), body }), 'BAD_REQUEST', 400);
  });

  it('refuses a body that is not valid UTF-8 with 400 BAD_REQUEST rather than reading it with replacement characters', async () => {
    const body = new Uint8Array([...new TextEncoder().encode('{"query":"{ __typename }","variables":{"p":"'), 0xff, 0xfe, ...new TextEncoder().encode('"}}')]);
    expectRefusal(await inProcess({ method: 'POST', headers: jsonHeaders(), body }), 'BAD_REQUEST', 400);
  });
});

describe('bodies over the limit', () => {
  const oversized = JSON.stringify({ query: '{ __typename }', variables: { padding: 'x'.repeat(LIMIT) } });

  it('refuses a body whose Content-Length is over the limit with 413 REQUEST_ENTITY_TOO_LARGE', async () => {
    expectRefusal(await inProcess({ method: 'POST', headers: jsonHeaders(), body: oversized }), 'REQUEST_ENTITY_TOO_LARGE', 413);
  });

  it('refuses a streamed body without Content-Length once it passes the limit', async () => {
    const bytes = new TextEncoder().encode(oversized);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < bytes.length; offset += 8192) controller.enqueue(bytes.slice(offset, offset + 8192));
        controller.close();
      },
    });
    const answer = await inProcess({ method: 'POST', headers: jsonHeaders(), body, duplex: 'half' } as RequestInit);
    expectRefusal(answer, 'REQUEST_ENTITY_TOO_LARGE', 413);
  });

  it('answers 413 over a real socket without reading a megabyte body, and keeps serving', async () => {
    // node:http rather than fetch: the server answers before the upload ends and then closes the
    // socket, which fetch reports as a failure instead of handing over the answer.
    const answer = await new Promise<RawAnswer>((resolve, reject) => {
      const request = httpRequest(`${t.url}/graphql`, { method: 'POST', headers: jsonHeaders() }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve(readAnswer(new Response(Buffer.concat(chunks), { status: response.statusCode! }))),
        );
      });
      request.on('error', (error) => setTimeout(() => reject(error), 1000));
      request.end('x'.repeat(1_000_000));
    });
    expectRefusal(answer, 'REQUEST_ENTITY_TOO_LARGE', 413);
  });

  /** A body sent in pieces with Transfer-Encoding: chunked (no Content-Length), over a real socket. */
  function chunkedOverTheNetwork(body: string, pieceBytes: number): Promise<RawAnswer & { connection: string | undefined }> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(
        `${t.url}/graphql`,
        { method: 'POST', headers: { ...jsonHeaders(), 'transfer-encoding': 'chunked' } },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            void readAnswer(new Response(Buffer.concat(chunks), { status: response.statusCode! })).then((answer) =>
              resolve({ ...answer, connection: response.headers.connection }),
            ),
          );
        },
      );
      // The server may answer 413 and close while pieces are still being sent: the answer is what counts.
      request.on('error', (error) => setTimeout(() => reject(error), 1000));
      for (let offset = 0; offset < body.length; offset += pieceBytes) request.write(body.slice(offset, offset + pieceBytes));
      request.end();
    });
  }

  it('accepts a chunked body without Content-Length just under the limit, read in many pieces', async () => {
    const body = JSON.stringify({ query: `{ __typename } # ${'x'.repeat(LIMIT - 200)}` });
    const answer = await chunkedOverTheNetwork(body, 4096);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses a chunked body without Content-Length over a real socket once it passes the limit, and closes the connection', async () => {
    const answer = await chunkedOverTheNetwork(oversized, 4096);
    expectRefusal(answer, 'REQUEST_ENTITY_TOO_LARGE', 413);
    // The rest of the upload is not read: the connection is not kept for another request.
    expect(answer.connection).toBe('close');
  });

  it('accepts a body just under the limit', async () => {
    const padding = 'x'.repeat(LIMIT - 200);
    const answer = await inProcess({
      method: 'POST',
      headers: jsonHeaders(),
      body: JSON.stringify({ query: `{ __typename } # ${padding}` }),
    });
    expect(answer.body).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('methods', () => {
  const getUrl = (query: string) => `/graphql?query=${encodeURIComponent(query)}`;

  it('answers a query over GET that carries the CSRF header', async () => {
    const answer = await inProcess(
      { method: 'GET', headers: { accept: 'application/json', 'x-graphql-yoga-csrf': '1' } },
      getUrl('{ __typename }'),
    );
    expect(answer.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses a GET without the CSRF header with 403 CSRF_HEADER_REQUIRED: a cross-site <img> or link could send it', async () => {
    const answer = await inProcess({ method: 'GET', headers: { accept: 'application/json' } }, getUrl('{ __typename }'));
    expectRefusal(answer, 'CSRF_HEADER_REQUIRED', 403);
  });

  it.each([
    ['logout', 'mutation { logout }'],
    ['login', 'mutation { login(email: "a@example.com", password: "correct horse battery") { accessToken } }'],
  ])('refuses a %s mutation over GET with 405 BAD_REQUEST, in process and over a socket', async (_name, mutation) => {
    const init = { method: 'GET', headers: { accept: 'application/json', 'x-graphql-yoga-csrf': '1' } };
    expectRefusal(await inProcess(init, getUrl(mutation)), 'BAD_REQUEST', 405);
    expectRefusal(await overTheNetwork(init, getUrl(mutation)), 'BAD_REQUEST', 405);
  });

  it.each(['PUT', 'DELETE', 'PATCH'])('refuses %s with 405 BAD_REQUEST', async (method) => {
    expectRefusal(await inProcess({ method, headers: jsonHeaders(), body: QUERY }), 'BAD_REQUEST', 405);
  });
});
