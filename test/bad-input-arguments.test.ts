import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp, withTestApp, type TestApp } from './helpers/app.js';
import { login, PASSWORD, signUp, uniqueEmail, type Payload } from './helpers/auth-flows.js';
import { expectRefusal, postRaw, type RawAnswer } from './helpers/bad-input.js';

const SIGN_UP = `mutation ($email: String!, $password: String!, $deviceName: String) {
  signUp(email: $email, password: $password, deviceName: $deviceName) { accessToken session { deviceName } } }`;
const LOGIN = `mutation ($email: String!, $password: String!, $deviceName: String) {
  login(email: $email, password: $password, deviceName: $deviceName) { accessToken } }`;
const REFRESH = `mutation ($refreshToken: String) { refresh(refreshToken: $refreshToken) { accessToken } }`;
const LOGOUT = `mutation ($refreshToken: String) { logout(refreshToken: $refreshToken) }`;
const REVOKE_DEVICE = `mutation ($id: ID!) { revokeDevice(sessionId: $id) }`;

const t = useTestApp();
let account: Payload;
beforeAll(async () => {
  account = await signUp(t.gql, { deviceName: 'laptop' });
});

// After every bad input the server still answers, and still logs people in.
afterEach(async () => {
  const answer = await send('{ __typename }');
  expect(answer.body).toEqual({ data: { __typename: 'Query' } });
});

function send(query: string, variables: Record<string, unknown> = {}, token?: string): Promise<RawAnswer> {
  return sendBody(JSON.stringify({ query, variables }), token);
}

function sendBody(body: string | Uint8Array, token?: string, app: TestApp = t): Promise<RawAnswer> {
  return postRaw(app, body, { token, accept: 'application/json' });
}

function expectBadField(answer: RawAnswer, field: string): void {
  expectRefusal(answer, 'BAD_USER_INPUT');
  expect(answer.body!.errors![0]!.extensions!.field).toBe(field);
}

describe('emails', () => {
  it.each([
    ['no @', 'not-an-email'],
    ['empty', ''],
    ['only spaces', '   '],
    ['no local part', '@example.com'],
    ['no domain', 'ada@'],
    ['a space inside', 'ada lovelace@example.com'],
    ['a NUL byte', 'ada\u0000@example.com'],
    ['a lone surrogate', 'ada\ud800@example.com'],
    ['10 kB', `${'a'.repeat(10_000)}@example.com`],
    ['255 characters', `${'a'.repeat(243)}@example.com`],
    ['SQL', "' OR 1=1 --"],
  ])('refuses an email with %s: BAD_USER_INPUT on email, at sign-up and at login', async (_name, email) => {
    expectBadField(await send(SIGN_UP, { email, password: PASSWORD }), 'email');
    expectBadField(await send(LOGIN, { email, password: PASSWORD }), 'email');
  });

  it("treats an email that looks like SQL but is valid as data: o'brien'--@example.com signs up and logs in", async () => {
    const email = `o'brien'--${crypto.randomUUID().slice(0, 6)}@example.com`;
    const signedUp = await signUp(t.gql, { email });
    expect(signedUp.user.email).toBe(email);
    const loggedIn = await login(t.gql, { email });
    expect(loggedIn.user.id).toBe(signedUp.user.id);
  });
});

describe('passwords', () => {
  it.each([
    ['7 characters', '1234567'],
    ['257 characters', 'p'.repeat(257)],
    ['60 kB', 'p'.repeat(60_000)],
    ['a NUL byte', 'correct\u0000horse battery'],
    ['a lone surrogate', 'correct horse \udc00battery'],
  ])('refuses a new password of %s: BAD_USER_INPUT on password', async (_name, password) => {
    expectBadField(await send(SIGN_UP, { email: uniqueEmail(), password }), 'password');
  });

  it.each([
    ['257 characters', 'p'.repeat(257)],
    ['60 kB', 'p'.repeat(60_000)],
    ['a lone surrogate', 'correct horse \udc00battery'],
  ])('refuses a presented password of %s at login: BAD_USER_INPUT on password', async (_name, password) => {
    expectBadField(await send(LOGIN, { email: account.user.email, password }), 'password');
  });

  it.each([
    ['SQL', "' OR '1'='1' --"],
    ['a NUL byte', `${PASSWORD}\u0000`],
  ])('answers a wrong password with %s INVALID_CREDENTIALS', async (_name, password) => {
    expectRefusal(await send(LOGIN, { email: uniqueEmail('nobody'), password }), 'INVALID_CREDENTIALS');
  });

  it('refuses a 5 MB password unread when the body limit lets it through', async () => {
    await withTestApp({ env: { MAX_REQUEST_BODY_BYTES: '8000000' }, beside: t }, async (roomy) => {
      const body = JSON.stringify({ query: LOGIN, variables: { email: account.user.email, password: 'p'.repeat(5_000_000) } });
      const started = performance.now();
      const answer = await sendBody(body, undefined, roomy);
      expectBadField(answer, 'password');
      // Reading 5 MB of JSON is all it costs: nothing normalises, spreads or hashes it.
      expect(performance.now() - started).toBeLessThan(2000);
    });
  });

  it('refuses a body whose password is not valid UTF-8 with 400 BAD_REQUEST', async () => {
    const before = new TextEncoder().encode(
      JSON.stringify({ query: LOGIN, variables: { email: account.user.email, password: 'PLACEHOLDER' } }),
    );
    const text = new TextDecoder().decode(before);
    const at = text.indexOf('PLACEHOLDER');
    const body = new Uint8Array([
      ...new TextEncoder().encode(text.slice(0, at)),
      0xc3, 0x28, 0xa0, 0xa1, // invalid UTF-8 sequences
      ...new TextEncoder().encode(text.slice(at + 'PLACEHOLDER'.length)),
    ]);
    expectRefusal(await sendBody(body), 'BAD_REQUEST', 400);
  });
});

describe('device names', () => {
  it.each([
    ['a NUL byte', 'laptop\u0000'],
    ['a newline', 'laptop\nphone'],
    ['an escape sequence', '\u001b[31mred'],
    ['a DEL character', 'laptop\u007f'],
    ['a lone surrogate', 'laptop\ud800'],
    ['101 characters', 'd'.repeat(101)],
    ['10 kB', 'd'.repeat(10_000)],
  ])('refuses a device name with %s: BAD_USER_INPUT on deviceName', async (_name, deviceName) => {
    expectBadField(await send(SIGN_UP, { email: uniqueEmail(), password: PASSWORD, deviceName }), 'deviceName');
    expectBadField(await send(LOGIN, { email: account.user.email, password: PASSWORD, deviceName }), 'deviceName');
  });

  it('stores a device name that looks like SQL verbatim, as data', async () => {
    const deviceName = "'); DROP TABLE sessions; --";
    const answer = await send(SIGN_UP, { email: uniqueEmail(), password: PASSWORD, deviceName });
    expect(answer.body!.errors).toBeUndefined();
    expect((answer.body!.data as { signUp: { session: { deviceName: string } } }).signUp.session.deviceName).toBe(deviceName);
    // The sessions table is still there.
    expect((await send(LOGIN, { email: account.user.email, password: PASSWORD })).body!.errors).toBeUndefined();
  });
});

describe('refresh tokens', () => {
  const wellFormedUnknown = 'A'.repeat(43);
  it.each([
    ['empty', ''],
    ['too short', 'abc'],
    ['one character short', 'A'.repeat(42)],
    ['one character long', 'A'.repeat(44)],
    ['standard base64 alphabet', `${'A'.repeat(40)}+/=`],
    ['non-ASCII', `${'A'.repeat(42)}é`],
    ['a NUL byte', `${'A'.repeat(42)}\u0000`],
    ['SQL', "' OR 1=1 --"],
    ['10 kB', 'A'.repeat(10_000)],
    ['well formed but unknown', wellFormedUnknown],
  ])('refuses a refresh token %s: INVALID_REFRESH_TOKEN, for refresh and for logout', async (_name, refreshToken) => {
    expectRefusal(await send(REFRESH, { refreshToken }), 'INVALID_REFRESH_TOKEN');
    if (refreshToken !== '') expectRefusal(await send(LOGOUT, { refreshToken }), 'INVALID_REFRESH_TOKEN');
  });
});

describe('session ids', () => {
  it.each([
    ['an unknown UUID', crypto.randomUUID()],
    ['not a UUID', 'not-a-uuid'],
    ['empty', ''],
    ['a UUID with a NUL byte', `${crypto.randomUUID()}\u0000`],
    ['SQL', "1' OR '1'='1"],
    ['10 kB', 'a'.repeat(10_000)],
    ['a number', 42],
  ])('answers revokeDevice with %s: NOT_FOUND', async (_name, id) => {
    expectRefusal(await send(REVOKE_DEVICE, { id }, account.accessToken), 'NOT_FOUND');
  });

  it("answers NOT_FOUND for another user's session, and leaves it live", async () => {
    const other = await signUp(t.gql);
    expectRefusal(await send(REVOKE_DEVICE, { id: other.session.id.toUpperCase() }, account.accessToken), 'NOT_FOUND');
    expectRefusal(await send(REVOKE_DEVICE, { id: other.session.id }, account.accessToken), 'NOT_FOUND');
    expect((await t.gql('{ me { id } }', {}, { token: other.accessToken })).errors).toBeUndefined();
  });
});

describe('GraphQL variables of the wrong type', () => {
  it.each([
    ['a number for a String!', SIGN_UP, { email: uniqueEmail(), password: 12345678 }],
    ['null for a String!', SIGN_UP, { email: null, password: PASSWORD }],
    ['an object for a String!', LOGIN, { email: { $ne: '' }, password: PASSWORD }],
    ['a list for a String', SIGN_UP, { email: uniqueEmail(), password: PASSWORD, deviceName: ['laptop'] }],
    ['a missing String!', LOGIN, { email: uniqueEmail() }],
    ['a number for a String', REFRESH, { refreshToken: 42 }],
    ['a boolean for an ID!', REVOKE_DEVICE, { id: true }],
  ])('refuses %s with BAD_USER_INPUT before anything runs', async (_name, query, variables) => {
    const answer = await send(query, variables);
    expectRefusal(answer, 'BAD_USER_INPUT');
    expect(answer.body!.data).toBeUndefined();
  });

  it('refuses a variable nested 10,000 lists deep with BAD_USER_INPUT, without overflowing the stack', async () => {
    // Written by hand: JSON.stringify itself recurses.
    const nested = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const answer = await sendBody(`{"query":${JSON.stringify(LOGIN)},"variables":{"email":${nested},"password":"x"}}`);
    expectRefusal(answer, 'BAD_USER_INPUT');
  });

  it('refuses an argument literal of the wrong type with GRAPHQL_VALIDATION_FAILED', async () => {
    expectRefusal(await send('mutation { refresh(refreshToken: 42) { accessToken } }'), 'GRAPHQL_VALIDATION_FAILED');
  });
});

describe('huge and deeply nested documents', () => {
  it('refuses 60 kB of fields with GRAPHQL_PARSE_FAILED (the token limit) before parsing it all', async () => {
    expectRefusal(await send(`{ ${'__typename '.repeat(5_000)}}`), 'GRAPHQL_PARSE_FAILED');
  });

  it('refuses selections nested 10,000 deep with GRAPHQL_PARSE_FAILED, without overflowing the stack', async () => {
    expectRefusal(await send(`${'{ me '.repeat(10_000)}${'}'.repeat(10_000)}`), 'GRAPHQL_PARSE_FAILED');
  });

  it('refuses a list literal nested 10,000 deep with GRAPHQL_PARSE_FAILED', async () => {
    const nested = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    expectRefusal(await send(`mutation { login(email: ${nested}, password: "x") { accessToken } }`), 'GRAPHQL_PARSE_FAILED');
  });

  it('answers a 50 kB string literal as an argument like any other too-long email', async () => {
    const answer = await send(`mutation { login(email: "${'a'.repeat(50_000)}@example.com", password: "x") { accessToken } }`);
    expectBadField(answer, 'email');
  });

  it('refuses an unterminated document with GRAPHQL_PARSE_FAILED', async () => {
    expectRefusal(await send('mutation { login(email: "a@example.com", password: "x"'), 'GRAPHQL_PARSE_FAILED');
  });
});
