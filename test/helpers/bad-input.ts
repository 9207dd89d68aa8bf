import { expect } from 'vitest';
import type { TestApp } from './app.js';

/** A response read as text, then as JSON when it is JSON. */
export interface RawAnswer {
  status: number;
  text: string;
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] } | undefined;
}

export async function readAnswer(response: Response): Promise<RawAnswer> {
  const text = await response.text();
  let body: RawAnswer['body'];
  try {
    body = JSON.parse(text) as RawAnswer['body'];
  } catch {
    body = undefined;
  }
  return { status: response.status, text, body };
}

/**
 * The shape of every answer to a bad input: GraphQL errors all with exactly this code, never a 500,
 * never a stack trace or an internal error's details in the body.
 */
export function expectRefusal(answer: RawAnswer, code: string, status?: number): void {
  expect(answer.status).toBeLessThan(500);
  if (status !== undefined) expect(answer.status).toBe(status);
  const codes = answer.body?.errors?.map((error) => error.extensions?.code) ?? [];
  expect(codes.length).toBeGreaterThan(0);
  expect(codes).toEqual(codes.map(() => code));
  expect(answer.text).not.toMatch(/\bstack\b|\n\s+at |node_modules|\.ts:\d+/);
}

/** A POST of `body` (sent as is, as JSON) to /graphql, optionally with a bearer token; read as RawAnswer. */
export async function postRaw(
  app: TestApp,
  body: string | Uint8Array,
  options: { token?: string; accept: string },
): Promise<RawAnswer> {
  const response = await app.app.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: options.accept,
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    // Uint8Array<ArrayBufferLike> is a valid body at run time; the DOM typings want an ArrayBuffer-backed one.
    body: body as BodyInit,
  });
  return readAnswer(response);
}
