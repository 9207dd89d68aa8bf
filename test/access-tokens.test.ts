import {
  base64url,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { signUp, type Payload } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

const KID = 'test-signing-key';
const ISSUER = 'http://localhost:4000';
const AUDIENCE = 'tidepass';

/** Our signing key, given through JWT_PRIVATE_KEY so that the tests can forge tokens with it. */
let ourKey: CryptoKey;
let ourPublicJwk: JWK;
let ourPublicPem: string;
/** Another ES256 key: what an attacker would sign with. */
let otherKey: CryptoKey;
let otherPublicJwk: JWK;
/** A real session whose user and session ids the forged tokens carry. */
let session: Payload;

const t = useTestApp(async () => {
  const ours = await generateKeyPair('ES256', { extractable: true });
  ourKey = ours.privateKey;
  ourPublicJwk = await exportJWK(ours.publicKey);
  ourPublicPem = await exportSPKI(ours.publicKey);
  const privateJwk = { ...(await exportJWK(ours.privateKey)), kid: KID };
  const other = await generateKeyPair('ES256', { extractable: true });
  otherKey = other.privateKey;
  otherPublicJwk = await exportJWK(other.publicKey);
  return { env: { JWT_PRIVATE_KEY: JSON.stringify(privateJwk) } };
});
beforeAll(async () => {
  session = await signUp(t.gql);
});

const nowSeconds = () => Math.floor(t.clock().getTime() / 1000);

/** The claims of a valid access token for `session`, which each test then spoils in one way. */
function claims(overrides: Partial<JWTPayload> = {}): JWTPayload {
  const now = nowSeconds();
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: session.user.id,
    sid: session.session.id,
    jti: crypto.randomUUID(),
    iat: now,
    exp: now + 900,
    ...overrides,
  };
}

function forge(
  payload: JWTPayload,
  options: { key?: CryptoKey | Uint8Array; header?: Record<string, unknown> } = {},
): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', kid: KID, typ: 'at+jwt', ...options.header })
    .sign(options.key ?? ourKey);
}

const meCodes = async (token: string) => codes(await t.gql('{ me { id } }', {}, { token }));
const meWithHeader = async (authorization: string) =>
  codes(await t.gql('{ me { id } }', {}, { headers: { authorization } }));

describe('the tokens we issue', () => {
  it('are ES256 JWTs with our kid, at+jwt, and the claims of the session', () => {
    expect(decodeProtectedHeader(session.accessToken)).toEqual({ alg: 'ES256', kid: KID, typ: 'at+jwt' });
    const payload = decodeJwt(session.accessToken);
    expect(payload).toEqual({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: session.user.id,
      sid: session.session.id,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      iat: nowSeconds(),
      exp: nowSeconds() + 900,
      // RFC 8176 / OIDC: when and how the user proved themselves (a sign-up: the password, now).
      auth_time: nowSeconds(),
      amr: ['pwd'],
    });
    expect(new Date(payload.exp! * 1000).toISOString()).toBe(session.accessTokenExpiresAt);
  });

  it('carry a different jti every time', async () => {
    const again = await signUp(t.gql);
    expect(decodeJwt(again.accessToken).jti).not.toBe(decodeJwt(session.accessToken).jti);
  });

  it('accept a forged token only when it is exactly what we would issue (the baseline of the tests below)', async () => {
    expect(await meCodes(await forge(claims()))).toEqual([]);
  });
});

describe('JWKS', () => {
  it('serves only the public part of our key, by kid, and other services verify our tokens with it', async () => {
    const response = await t.app.yoga.fetch('http://localhost/.well-known/jwks.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/jwk-set+json');
    const jwks = (await response.json()) as { keys: JWK[] };
    expect(jwks.keys).toEqual([
      { kty: 'EC', crv: 'P-256', x: ourPublicJwk.x, y: ourPublicJwk.y, kid: KID, alg: 'ES256', use: 'sig' },
    ]);
    expect(JSON.stringify(jwks)).not.toContain('"d"');

    const { payload } = await jwtVerify(session.accessToken, createLocalJWKSet(jwks), {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['ES256'],
      currentDate: t.clock(),
    });
    expect(payload.sid).toBe(session.session.id);
  });
});

describe('rejection', () => {
  it('refuses alg none as INVALID_TOKEN', async () => {
    const encode = (value: object) => base64url.encode(JSON.stringify(value));
    const unsigned = `${encode({ alg: 'none', kid: KID, typ: 'at+jwt' })}.${encode(claims())}.`;
    expect(await meCodes(unsigned)).toEqual(['INVALID_TOKEN']);
    expect(await meCodes(unsigned.slice(0, -1))).toEqual(['INVALID_TOKEN']);
  });

  it('refuses HS256 signed with our public key as the secret', async () => {
    for (const secret of [ourPublicPem, JSON.stringify(ourPublicJwk), JSON.stringify({ ...ourPublicJwk, kid: KID })]) {
      const token = await forge(claims(), { key: new TextEncoder().encode(secret), header: { alg: 'HS256' } });
      expect(await meCodes(token)).toEqual(['INVALID_TOKEN']);
    }
  });

  it('refuses a token signed with another ES256 key that names our kid', async () => {
    expect(await meCodes(await forge(claims(), { key: otherKey }))).toEqual(['INVALID_TOKEN']);
  });

  it('refuses a token of our key that names a kid we do not have', async () => {
    expect(await meCodes(await forge(claims(), { header: { kid: 'another-kid' } }))).toEqual(['INVALID_TOKEN']);
  });

  it('says INVALID_TOKEN, not TOKEN_EXPIRED, of an expired token whose signature does not verify', async () => {
    const expired = claims({ iat: nowSeconds() - 2000, exp: nowSeconds() - 1000 });
    expect(await meCodes(await forge(expired, { key: otherKey }))).toEqual(['INVALID_TOKEN']);
  });

  it('ignores keys named by the token: jwk, jku and x5u headers', async () => {
    const embedded = await forge(claims(), { key: otherKey, header: { jwk: otherPublicJwk } });
    expect(await meCodes(embedded)).toEqual(['INVALID_TOKEN']);
    const remote = await forge(claims(), { key: otherKey, header: { jku: 'https://attacker.example/jwks.json' } });
    expect(await meCodes(remote)).toEqual(['INVALID_TOKEN']);
    const x5u = await forge(claims(), { key: otherKey, header: { x5u: 'https://attacker.example/cert.pem' } });
    expect(await meCodes(x5u)).toEqual(['INVALID_TOKEN']);
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const [header, , signature] = session.accessToken.split('.');
    const tampered = base64url.encode(JSON.stringify({ ...decodeJwt(session.accessToken), sub: crypto.randomUUID() }));
    expect(await meCodes(`${header}.${tampered}.${signature}`)).toEqual(['INVALID_TOKEN']);
  });

  it('refuses a token whose signature was changed', async () => {
    const [header, payload, signature] = session.accessToken.split('.');
    const bytes = base64url.decode(signature!);
    bytes[5] = bytes[5]! ^ 1;
    expect(await meCodes(`${header}.${payload}.${base64url.encode(bytes)}`)).toEqual(['INVALID_TOKEN']);
  });

  it('answers TOKEN_EXPIRED beyond the 30 s tolerance and accepts a token expired within it', async () => {
    const now = nowSeconds();
    expect(await meCodes(await forge(claims({ iat: now - 1000, exp: now - 31 })))).toEqual(['TOKEN_EXPIRED']);
    expect(await meCodes(await forge(claims({ iat: now - 900, exp: now - 29 })))).toEqual([]);
  });

  it.each([
    ['a wrong issuer', { iss: 'https://evil.example' }],
    ['a wrong audience', { aud: 'another-service' }],
    ['a non-string subject', { sub: 42 as unknown as string }],
  ])('refuses a token with %s as INVALID_TOKEN', async (_name, overrides) => {
    expect(await meCodes(await forge(claims(overrides)))).toEqual(['INVALID_TOKEN']);
  });

  it.each(['sub', 'sid', 'jti', 'exp', 'iat'])('refuses a token without %s as INVALID_TOKEN', async (claim) => {
    const payload = claims();
    delete payload[claim];
    expect(await meCodes(await forge(payload))).toEqual(['INVALID_TOKEN']);
  });

  it('refuses a token that is not typed as an access token', async () => {
    expect(await meCodes(await forge(claims(), { header: { typ: 'JWT' } }))).toEqual(['INVALID_TOKEN']);
  });

  it.each([
    ['random text', 'hello'],
    ['three garbage segments', 'a.b.c'],
    ['a JSON object', '{"sub":"x"}'],
    ['an overlong token', `eyJhbGciOiJFUzI1NiJ9.${'A'.repeat(5000)}.AAAA`],
  ])('refuses %s as INVALID_TOKEN', async (_name, token) => {
    expect(await meCodes(token)).toEqual(['INVALID_TOKEN']);
  });

  it('refuses an Authorization header that is not a bearer token', async () => {
    expect(await meWithHeader(`Basic ${btoa('user:pass')}`)).toEqual(['INVALID_TOKEN']);
    expect(await meWithHeader('Bearer')).toEqual(['INVALID_TOKEN']);
    expect(await meWithHeader(`Bearer ${session.accessToken} extra`)).toEqual(['INVALID_TOKEN']);
  });

  it('keeps answering after all these refusals', async () => {
    expect(await meCodes(session.accessToken)).toEqual([]);
  });
});
