import { eq } from 'drizzle-orm';
import {
  base64url,
  CompactSign,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { users } from '../src/db/schema.js';
import { createHttpServer } from '../src/transport/http.js';
import { useTestApp } from './helpers/app.js';
import { REFRESH, signUp, type Payload } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import { eventually } from './helpers/eventually.js';

/**
 * The bad-input suite for access tokens: each bad JWT goes through the public API (the Authorization
 * header of a signed-in query), and each answer must be the exact code, never a 500 or a stack trace,
 * and the server must still answer afterwards.
 */

const KID = 'jwt-suite-key';
const ISSUER = 'http://localhost:4000';
const AUDIENCE = 'tidepass';
const ACCESS_TOKEN_TTL = 900;

let ourKey: CryptoKey;
let ourPublicJwk: JWK;
let ourPublicPem: string;
let attackerKey: CryptoKey;
let attackerPublicJwk: JWK;
let session: Payload;

const t = useTestApp(async () => {
  const ours = await generateKeyPair('ES256', { extractable: true });
  ourKey = ours.privateKey;
  ourPublicJwk = { ...(await exportJWK(ours.publicKey)), kid: KID };
  ourPublicPem = await exportSPKI(ours.publicKey);
  const attacker = await generateKeyPair('ES256', { extractable: true });
  attackerKey = attacker.privateKey;
  attackerPublicJwk = await exportJWK(attacker.publicKey);
  return {
    env: {
      JWT_PRIVATE_KEY: JSON.stringify({ ...(await exportJWK(ours.privateKey)), kid: KID }),
      ACCESS_TOKEN_TTL: String(ACCESS_TOKEN_TTL),
    },
  };
});
beforeAll(async () => {
  session = await signUp(t.gql);
});

afterEach(async () => {
  // Still answering, and still accepting a good token.
  const check = await fetchRaw(`Bearer ${await forge(claims())}`);
  expect(check.status).toBe(200);
  expect(JSON.parse(check.body)).toEqual({ data: { me: { id: session.user.id } } });
});

const now = () => Math.floor(t.clock().getTime() / 1000);
const b64 = (value: string | Uint8Array) => base64url.encode(value);
const json = (value: unknown) => b64(JSON.stringify(value));

function claims(overrides: Partial<JWTPayload> = {}): JWTPayload {
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: session.user.id,
    sid: session.session.id,
    jti: crypto.randomUUID(),
    iat: now(),
    exp: now() + ACCESS_TOKEN_TTL,
    ...overrides,
  };
}

const HEADER = { alg: 'ES256', kid: KID, typ: 'at+jwt' };

function forge(
  payload: JWTPayload,
  options: { key?: CryptoKey | Uint8Array; header?: Record<string, unknown>; alg?: string } = {},
): Promise<string> {
  const header = { ...HEADER, ...(options.alg ? { alg: options.alg } : {}), ...options.header };
  return new SignJWT(payload).setProtectedHeader(header).sign(options.key ?? ourKey);
}

/** `{ me { id } }` with this Authorization header, through yoga.fetch; the raw status and body. */
async function fetchRaw(authorization: string): Promise<{ status: number; body: string }> {
  const response = await t.app.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization },
    body: JSON.stringify({ query: '{ me { id } }' }),
  });
  return { status: response.status, body: await response.text() };
}

/** The one error code of the answer, after checking it is a clean refusal (no 500, no stack, no data). */
async function codeFor(authorization: string): Promise<string> {
  const { status, body } = await fetchRaw(authorization);
  expect(status).toBeLessThan(500);
  expect(body).not.toMatch(/stack| {4}at |node_modules|\.ts:\d/);
  const parsed = JSON.parse(body) as { data: unknown; errors?: { extensions?: { code?: string } }[] };
  expect(parsed.data).toBeNull();
  expect(parsed.errors).toHaveLength(1);
  return parsed.errors![0]!.extensions!.code!;
}

const bearer = (token: string) => codeFor(`Bearer ${token}`);

describe('malformed JWTs', () => {
  it.each([
    ['one part', 'abc'],
    ['two parts', 'abc.def'],
    ['four parts', 'a.b.c.d'],
    ['five parts (a JWE shape)', 'a.b.c.d.e'],
    ['three empty parts', '..'],
    ['dots only', '.....'],
  ])('refuses a token of %s as INVALID_TOKEN', async (_name, token) => {
    expect(await bearer(token)).toBe('INVALID_TOKEN');
  });

  it('refuses an empty bearer and a bearer with spaces inside as INVALID_TOKEN', async () => {
    expect(await codeFor('Bearer ')).toBe('INVALID_TOKEN');
    expect(await codeFor('Bearer a b c')).toBe('INVALID_TOKEN');
  });

  it('refuses parts that are not base64url as INVALID_TOKEN', async () => {
    const [header, payload, signature] = (await forge(claims())).split('.');
    expect(await bearer(`${header}+/=.${payload}.${signature}`)).toBe('INVALID_TOKEN');
    expect(await bearer(`${header}.${payload}!!.${signature}`)).toBe('INVALID_TOKEN');
    expect(await bearer(`${header}.${payload}.${signature}%%`)).toBe('INVALID_TOKEN');
    expect(await bearer(`${header}.${payload}.é${signature}`)).toBe('INVALID_TOKEN');
  });

  it('refuses a header that is not JSON, or JSON but not an object, as INVALID_TOKEN', async () => {
    const [, payload, signature] = (await forge(claims())).split('.');
    for (const header of [b64('not json'), b64('{"alg":"ES256"'), json(null), json([]), json('ES256'), json(42), b64('')]) {
      expect(await bearer(`${header}.${payload}.${signature}`), header).toBe('INVALID_TOKEN');
    }
  });

  it('refuses a correctly signed payload that is not JSON, or JSON but not an object, as INVALID_TOKEN', async () => {
    for (const payload of ['not json', '{"sub":', 'null', '[]', '"a string"', '']) {
      const token = await new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader(HEADER).sign(ourKey);
      expect(await bearer(token), payload).toBe('INVALID_TOKEN');
    }
  });

  it('refuses a 100 kB header as INVALID_TOKEN without parsing it', async () => {
    const header = json({ ...HEADER, padding: 'x'.repeat(100_000) });
    const [, payload, signature] = (await forge(claims())).split('.');
    expect(await bearer(`${header}.${payload}.${signature}`)).toBe('INVALID_TOKEN');
  });

  it('answers a clean 431 to a 100 kB Authorization header over real HTTP, and keeps serving', async () => {
    // A server of its own around the same yoga: node:http as in production, without stopping the app.
    const http = createHttpServer(t.app.yoga);
    const address = await http.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${address.port}`;
    try {
      const huge = `Bearer ${json({ ...HEADER, padding: 'x'.repeat(100_000) })}.e30.AA`;
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: huge },
        body: JSON.stringify({ query: '{ me { id } }' }),
      });
      expect(response.status).toBe(431);
      expect(await response.text()).not.toMatch(/stack| {4}at /);
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
    } finally {
      await http.close(1000);
    }
  });
});

describe('algorithms and keys', () => {
  it('refuses alg none, with or without a signature, as INVALID_TOKEN', async () => {
    for (const alg of ['none', 'None', 'NONE']) {
      const unsigned = `${json({ alg, kid: KID, typ: 'at+jwt' })}.${json(claims())}`;
      expect(await bearer(`${unsigned}.`), alg).toBe('INVALID_TOKEN');
      expect(await bearer(`${unsigned}.${(await forge(claims())).split('.')[2]}`), alg).toBe('INVALID_TOKEN');
    }
  });

  it('refuses HS256 keyed with our public key (PEM, JWK JSON, raw coordinates) as INVALID_TOKEN', async () => {
    const secrets = [ourPublicPem, JSON.stringify(ourPublicJwk), `${ourPublicJwk.x}${ourPublicJwk.y}`];
    for (const secret of secrets) {
      const token = await forge(claims(), { alg: 'HS256', key: new TextEncoder().encode(secret) });
      expect(await bearer(token)).toBe('INVALID_TOKEN');
    }
  });

  it('refuses RS256, PS256, ES384 and ES512 tokens as INVALID_TOKEN', async () => {
    for (const alg of ['RS256', 'PS256', 'ES384', 'ES512']) {
      const { privateKey } = await generateKeyPair(alg);
      expect(await bearer(await forge(claims(), { alg, key: privateKey })), alg).toBe('INVALID_TOKEN');
    }
  });

  it('refuses an ES256 token of another key that names our kid as INVALID_TOKEN', async () => {
    expect(await bearer(await forge(claims(), { key: attackerKey }))).toBe('INVALID_TOKEN');
  });

  it('refuses an unknown, empty, missing or non-string kid as INVALID_TOKEN, even when signed with our key', async () => {
    const header = (kid: unknown) => ({ kid });
    for (const kid of ['unknown-kid', '', undefined, null, 42, [KID], { kid: KID }]) {
      const token = await forge(claims(), { header: header(kid) });
      expect(await bearer(token), JSON.stringify(kid)).toBe('INVALID_TOKEN');
    }
  });

  it('refuses kids that look like path traversal or SQL as INVALID_TOKEN', async () => {
    for (const kid of [
      '../../../../etc/passwd',
      '/dev/null',
      "' OR '1'='1",
      `${KID}' --`,
      `x'; drop table signing_keys; --`,
      `${KID}\u0000`,
    ]) {
      expect(await bearer(await forge(claims(), { header: { kid } })), kid).toBe('INVALID_TOKEN');
      expect(await bearer(await forge(claims(), { header: { kid }, key: attackerKey })), kid).toBe('INVALID_TOKEN');
    }
    // Nothing was dropped: signing still works end to end.
    const fresh = await signUp(t.gql);
    expect(codes(await t.gql('{ me { id } }', {}, { token: fresh.accessToken }))).toEqual([]);
  });

  it('ignores keys the token names (jwk, jku, x5u, x5c): the signature of the attacker key fails', async () => {
    const headers = [
      { jwk: attackerPublicJwk },
      { jwk: attackerPublicJwk, kid: 'attacker' },
      { jku: 'https://attacker.example/jwks.json' },
      { jku: 'https://attacker.example/jwks.json', kid: 'attacker' },
      { x5u: 'https://attacker.example/cert.pem' },
      { x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] },
    ];
    for (const header of headers) {
      expect(await bearer(await forge(claims(), { header, key: attackerKey })), JSON.stringify(header)).toBe(
        'INVALID_TOKEN',
      );
    }
  });

  it('refuses the ECDSA psychic signature (r = s = 0) as INVALID_TOKEN', async () => {
    const [header, payload] = (await forge(claims())).split('.');
    const zero = b64(new Uint8Array(64));
    expect(await bearer(`${header}.${payload}.${zero}`)).toBe('INVALID_TOKEN');
    // The DER encoding of r = s = 0 too, and a signature of the wrong length.
    expect(await bearer(`${header}.${payload}.${b64(new Uint8Array([0x30, 6, 2, 1, 0, 2, 1, 0]))}`)).toBe('INVALID_TOKEN');
    expect(await bearer(`${header}.${payload}.${b64(new Uint8Array(63))}`)).toBe('INVALID_TOKEN');
    expect(await bearer(`${header}.${payload}.`)).toBe('INVALID_TOKEN');
  });

  it('refuses an unknown critical header parameter as INVALID_TOKEN', async () => {
    const token = await forge(claims(), { header: { crit: ['exp-policy'], 'exp-policy': 1 } }).catch(() => null);
    const handMade = `${json({ ...HEADER, crit: ['exp-policy'], 'exp-policy': 1 })}.${json(claims())}.${b64(new Uint8Array(64))}`;
    expect(await bearer(token ?? handMade)).toBe('INVALID_TOKEN');
  });
});

describe('claims', () => {
  it('answers TOKEN_EXPIRED for a token expired beyond the 30 s tolerance', async () => {
    expect(await bearer(await forge(claims({ iat: now() - 1000, exp: now() - 31 })))).toBe('TOKEN_EXPIRED');
  });

  it('refuses a token whose nbf is beyond the tolerance, and accepts one within it', async () => {
    expect(await bearer(await forge(claims({ nbf: now() + 31 })))).toBe('INVALID_TOKEN');
    expect(codes(await t.gql('{ me { id } }', {}, { token: await forge(claims({ nbf: now() + 29 })) }))).toEqual([]);
  });

  it('refuses a token issued longer ago than the access-token TTL even if its exp says otherwise (maxTokenAge)', async () => {
    const old = claims({ iat: now() - ACCESS_TOKEN_TTL - 31, exp: now() + 3600 });
    expect(await bearer(await forge(old))).toBe('TOKEN_EXPIRED');
  });

  it('refuses a token issued in the future beyond the tolerance as INVALID_TOKEN', async () => {
    expect(await bearer(await forge(claims({ iat: now() + 120, exp: now() + 600 })))).toBe('INVALID_TOKEN');
  });

  it('refuses a wrong iss or aud as INVALID_TOKEN', async () => {
    for (const override of [
      { iss: 'https://attacker.example' },
      { iss: `${ISSUER}/` },
      { aud: 'another-service' },
      { aud: ['another-service'] },
      { aud: [] },
    ]) {
      expect(await bearer(await forge(claims(override))), JSON.stringify(override)).toBe('INVALID_TOKEN');
    }
  });

  it('refuses a missing or mistyped sub, sid, jti, iat or exp as INVALID_TOKEN', async () => {
    for (const name of ['sub', 'sid', 'jti', 'iat', 'exp', 'iss', 'aud'] as const) {
      const { [name]: _removed, ...rest } = claims();
      expect(await bearer(await forge(rest)), `missing ${name}`).toBe('INVALID_TOKEN');
    }
    for (const override of [{ sub: 42 }, { sid: 42 }, { sid: ['x'] }, { exp: 'tomorrow' }, { iat: 'now' }]) {
      expect(await bearer(await forge(claims(override as JWTPayload))), JSON.stringify(override)).toBe('INVALID_TOKEN');
    }
  });

  it('refuses a sub or sid that is not a UUID (not an id we issue) as INVALID_TOKEN, even signed with our key', async () => {
    for (const id of ['not-a-uuid', "' OR 1=1 --", '../../etc/passwd', 'x'.repeat(1000), '']) {
      expect(await bearer(await forge(claims({ sid: id }))), `sid ${id.slice(0, 20)}`).toBe('INVALID_TOKEN');
      expect(await bearer(await forge(claims({ sub: id }))), `sub ${id.slice(0, 20)}`).toBe('INVALID_TOKEN');
    }
  });

  it('refuses claims changed after signing as INVALID_TOKEN', async () => {
    const [header, , signature] = session.accessToken.split('.');
    const other = await signUp(t.gql);
    for (const change of [{ sub: other.user.id }, { sid: other.session.id }, { exp: now() + 86_400 }]) {
      const tampered = `${header}.${json({ ...claims(), ...change })}.${signature}`;
      expect(await bearer(tampered), JSON.stringify(change)).toBe('INVALID_TOKEN');
    }
    // Same header, claims re-encoded with whitespace: a different signing input.
    const [h, p, s] = (await forge(claims())).split('.');
    const respaced = b64(JSON.stringify(JSON.parse(new TextDecoder().decode(base64url.decode(p!))), null, 1));
    expect(await bearer(`${h}.${respaced}.${s}`)).toBe('INVALID_TOKEN');
  });
});

describe('a valid token of a deleted user', () => {
  it('is refused (SESSION_REVOKED for me), and the refresh token with it', async () => {
    const doomed = await signUp(t.gql);
    await t.app.database.db.delete(users).where(eq(users.id, doomed.user.id));
    // The database announces the deleted sessions (no query per request): refused within milliseconds.
    await eventually(async () => codes(await t.gql('{ me { id } }', {}, { token: doomed.accessToken }))[0] === 'SESSION_REVOKED', 1000);
    expect(await bearer(doomed.accessToken)).toBe('SESSION_REVOKED');
    expect(codes(await t.gql(REFRESH, { refreshToken: doomed.refreshToken }))).toEqual(['INVALID_REFRESH_TOKEN']);
  });
});
