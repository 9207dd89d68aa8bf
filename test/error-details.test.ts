import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestApp, withTestApp, type TestApp } from './helpers/app.js';
import { refuseInserts } from './helpers/faults.js';
import { PASSWORD, REFRESH, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { postRaw, type RawAnswer } from './helpers/bad-input.js';

/**
 * What error answers reveal depending on NODE_ENV. NODE_ENV=development shows an unexpected error's
 * details (and field suggestions) to everyone; with NODE_ENV unset only clients on this machine get
 * them (development-conveniences.test.ts, on real sockets), and a request in process has no socket,
 * so here it is answered as production answers. Every other test runs with NODE_ENV=test.
 */

// An empty variable is an unset one (loadConfig), as with `NODE_ENV= npm start`.
const unset = useTestApp({ env: { NODE_ENV: '' } });
const development = useTestApp({ env: { NODE_ENV: 'development' }, beside: unset });
const production = useTestApp({ env: { NODE_ENV: 'production', MAIL: 'disabled' }, beside: unset });

function post(app: TestApp, body: unknown, token?: string): Promise<RawAnswer> {
  return postRaw(app, JSON.stringify(body), { token, accept: 'application/graphql-response+json, application/json' });
}

/** Expected failures, each with the code it must get: the same in every environment. */
async function catalogue() {
  const { accessToken } = await signUp(unset.gql);
  const email = uniqueEmail('nobody');
  return [
    [{ query: '{ me { id } }' }, undefined, 'UNAUTHENTICATED'],
    [{ query: '{ me { id } }' }, 'e30.e30.e30', 'INVALID_TOKEN'],
    [{ query: `mutation { login(email: "${email}", password: "wrong password") { accessToken } }` }, undefined, 'INVALID_CREDENTIALS'],
    [{ query: `mutation { signUp(email: "not an email", password: "${PASSWORD}") { accessToken } }` }, undefined, 'BAD_USER_INPUT'],
    [{ query: REFRESH, variables: { refreshToken: 'A'.repeat(43) } }, undefined, 'INVALID_REFRESH_TOKEN'],
    [{ query: `mutation { revokeDevice(sessionId: "${crypto.randomUUID()}") }` }, accessToken, 'NOT_FOUND'],
    [{ query: 'mutation ($id: ID!) { revokeDevice(sessionId: $id) }', variables: { id: [1] } }, accessToken, 'BAD_USER_INPUT'],
    [{ query: '{ mee { id } }' }, undefined, 'GRAPHQL_VALIDATION_FAILED'],
    [{ query: '{ me { id ' }, undefined, 'GRAPHQL_PARSE_FAILED'],
  ] as const;
}

/** Extension fields an expected failure may carry: its code, and the argument at fault. */
const DOCUMENTED_EXTENSIONS = ['code', 'field'];
const STACK = /\bstack\b|\n\s+at |node_modules|\.ts:\d+|originalError/;

describe('with NODE_ENV unset', () => {
  it('runs as development, the documented default', () => {
    expect(unset.app.config.env).toBe('development');
  });

  it('answers every expected failure of a client not on this machine exactly as production does: its code and documented fields, no stack', async () => {
    for (const [body, token, code] of await catalogue()) {
      const answer = await post(unset, body, token);
      const same = await post(production, body, token);
      expect({ status: answer.status, body: answer.body }, body.query).toEqual({ status: same.status, body: same.body });
      expect(answer.status).toBeLessThan(500);
      expect(answer.body?.errors?.map((error) => error.extensions?.code)).toEqual([code]);
      for (const error of answer.body!.errors!) {
        expect(Object.keys(error.extensions ?? {}).every((key) => DOCUMENTED_EXTENSIONS.includes(key)), JSON.stringify(error)).toBe(true);
      }
      expect(answer.text).not.toMatch(STACK);
    }
  });

  it('suggests field names to everyone with NODE_ENV=development only', async () => {
    const query = { query: '{ mee { id } }' };
    expect((await post(development, query)).text).toMatch(/did you mean/i);
    expect((await post(unset, query)).text).not.toMatch(/did you mean/i);
    expect((await post(production, query)).text).not.toMatch(/did you mean/i);
  });
});

describe('in production', () => {
  it('answers every expected failure with the same codes, and no more detail than development', async () => {
    for (const [body, token, code] of await catalogue()) {
      const answer = await post(production, body, token);
      expect(answer.status).toBeLessThan(500);
      expect(answer.body?.errors?.map((error) => error.extensions?.code), body.query).toEqual([code]);
      for (const error of answer.body!.errors!) {
        expect(Object.keys(error.extensions ?? {}).every((key) => DOCUMENTED_EXTENSIONS.includes(key))).toBe(true);
      }
      expect(answer.text).not.toMatch(STACK);
    }
  });
});

describe('an unexpected error', () => {
  it("shows its message (never the failed query's values) with NODE_ENV=development, and nothing in production or to a client elsewhere with NODE_ENV unset", async () => {
    const session = await signUp(unset.gql);
    // A fault no code path expects: every insert into refresh_tokens fails. Added last: the apps share the database.
    await refuseInserts(unset.app.database.db, 'refresh_tokens');
    const tokenHash = createHash('sha256').update(session.refreshToken).digest('hex');
    const body = { query: REFRESH, variables: { refreshToken: session.refreshToken } };

    const shown = await post(development, body);
    expect(shown.body?.errors?.[0]?.extensions).toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      originalError: { message: expect.stringContaining('refused by a test trigger') },
    });
    for (const secret of [tokenHash, session.user.email, '$argon2id$', 'params']) expect(shown.text).not.toContain(secret);

    const hidden = await post(production, body);
    expect(hidden.body?.errors).toEqual([
      { message: 'Unexpected error.', locations: expect.any(Array), path: ['refresh'], extensions: { code: 'INTERNAL_SERVER_ERROR' } },
    ]);
    expect(hidden.text).not.toMatch(/refused by a test trigger|refresh_tokens/);
    const elsewhere = await post(unset, body);
    expect(elsewhere.body?.errors).toEqual(hidden.body?.errors);
  });
});

describe('an unexpected database error in development', () => {
  it("shows the fault's details to the client but not the failed query's values", async () => {
    await withTestApp({ env: { NODE_ENV: 'development' } }, async (development) => {
      const session = await signUp(development.gql);
      // A fault no code path expects: every insert into refresh_tokens fails.
      await refuseInserts(development.app.database.db, 'refresh_tokens');
      const email = uniqueEmail();
      const answers = [
        await development.gql(`mutation { signUp(email: "${email}", password: "${PASSWORD}") { accessToken } }`),
        await development.gql(REFRESH, { refreshToken: session.refreshToken }),
      ];
      for (const answer of answers) {
        expect(answer.errors?.[0]?.extensions).toMatchObject({
          code: 'INTERNAL_SERVER_ERROR',
          originalError: { message: expect.stringContaining('refused by a test trigger') },
        });
        const text = JSON.stringify(answer);
        expect(text).not.toContain(email);
        expect(text).not.toContain('$argon2id$');
        expect(text).not.toContain(createHash('sha256').update(session.refreshToken).digest('hex'));
        expect(text).not.toContain('params');
      }
    });
  });
});
