import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.js';
import { signUp, type Payload } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

const ISSUER = 'https://auth.test';
const AUDIENCE = 'tidepass-test';
const KID = 'test-key-1';

let t: TestApp;
let privateJwk: JWK;
let signedIn: Payload;

beforeAll(async () => {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  privateJwk = { ...(await exportJWK(privateKey)), kid: KID };
  t = await createTestApp({
    env: { JWT_PRIVATE_KEY: JSON.stringify(privateJwk), JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE },
  });
  signedIn = await signUp(t.gql);
});
afterAll(() => t.close());

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const meCodes = async (token: string) => codes(await t.gql('{ me { id } }', {}, { token }));

/** A token signed with our own key and the given claims and header, for claim-level rejections. */
async function signWithOurKey(claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(t.clock().getTime() / 1000);
  const jwt = new SignJWT({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: signedIn.user.id,
    sid: signedIn.session.id,
    jti: crypto.randomUUID(),
    iat: now,
    exp: now + 600,
    ...claims,
  });
  return jwt
    .setProtectedHeader({ alg: 'ES256', kid: KID, typ: 'at+jwt', ...header })
    .sign(await importOurKey());
}

async function importOurKey() {
  const { importJWK } = await import('jose');
  return importJWK(privateJwk, 'ES256');
}

describe('access tokens', () => {
  it('accepts a token signed with our key and the right claims', async () => {
    expect(await meCodes(await signWithOurKey({}))).toEqual([]);
  });

  it('serves the public key as a JWKS that verifies our tokens, without the private part', async () => {
    const response = await t.app.yoga.fetch('http://localhost/.well-known/jwks.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/jwk-set+json');
    const jwks = (await response.json()) as { keys: JWK[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kid: KID, alg: 'ES256', kty: 'EC', crv: 'P-256' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const { payload, protectedHeader } = await jwtVerify(signedIn.accessToken, createLocalJWKSet(jwks), {
      issuer: ISSUER,
      audience: AUDIENCE,
      currentDate: t.clock(),
    });
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: KID, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: signedIn.user.id, sid: signedIn.session.id });
    expect(payload.jti).toEqual(expect.any(String));
  });

  it('refuses alg none with INVALID_TOKEN', async () => {
    const [, payload] = signedIn.accessToken.split('.');
    const none = `${b64({ alg: 'none', typ: 'at+jwt', kid: KID })}.${payload}.`;
    expect(await meCodes(none)).toEqual(['INVALID_TOKEN']);
  });

  it('refuses HS256 signed with our public key as the secret (key confusion)', async () => {
    const { d: _d, ...publicJwk } = privateJwk;
    for (const secret of [JSON.stringify(publicJwk), `${publicJwk.x}`]) {
      const token = await new SignJWT({ sid: signedIn.session.id, jti: 'x' })
        .setProtectedHeader({ alg: 'HS256', kid: KID, typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(signedIn.user.id)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode(secret));
      expect(await meCodes(token)).toEqual(['INVALID_TOKEN']);
    }
  });

  it('refuses a token signed by another key that claims our kid, even when it embeds its own jwk', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: signedIn.user.id, sid: signedIn.session.id, jti: 'j', iat: now, exp: now + 600 };
    const plain = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: KID, typ: 'at+jwt' }).sign(privateKey);
    expect(await meCodes(plain)).toEqual(['INVALID_TOKEN']);
    const embedded = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: KID, typ: 'at+jwt', jwk: await exportJWK(publicKey) })
      .sign(privateKey);
    expect(await meCodes(embedded)).toEqual(['INVALID_TOKEN']);
    const unknownKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'other', typ: 'at+jwt' }).sign(privateKey);
    expect(await meCodes(unknownKid)).toEqual(['INVALID_TOKEN']);
  });

  it('refuses a payload tampered with after signing', async () => {
    const [header, payload, signature] = signedIn.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as JWTPayload;
    const tampered = `${header}.${b64({ ...claims, sub: crypto.randomUUID() })}.${signature}`;
    expect(await meCodes(tampered)).toEqual(['INVALID_TOKEN']);
  });

  it('refuses the wrong issuer, audience or type', async () => {
    expect(await meCodes(await signWithOurKey({ iss: 'https://evil.test' }))).toEqual(['INVALID_TOKEN']);
    expect(await meCodes(await signWithOurKey({ aud: 'someone-else' }))).toEqual(['INVALID_TOKEN']);
    expect(await meCodes(await signWithOurKey({}, { typ: 'JWT' }))).toEqual(['INVALID_TOKEN']);
  });

  it('refuses a token missing any required claim', async () => {
    for (const claim of ['sub', 'sid', 'jti', 'exp', 'iat']) {
      expect(await meCodes(await signWithOurKey({ [claim]: undefined })), claim).toEqual(['INVALID_TOKEN']);
    }
  });

  it('says TOKEN_EXPIRED only of a verified token expired beyond the 30 s tolerance', async () => {
    const now = Math.floor(t.clock().getTime() / 1000);
    expect(await meCodes(await signWithOurKey({ iat: now - 700, exp: now - 20 }))).toEqual([]);
    expect(await meCodes(await signWithOurKey({ iat: now - 700, exp: now - 31 }))).toEqual(['TOKEN_EXPIRED']);
    // Expired and forged: the signature fails first, so it is INVALID_TOKEN, not TOKEN_EXPIRED.
    const expired = await signWithOurKey({ iat: now - 700, exp: now - 100 });
    const forged = `${expired.slice(0, expired.lastIndexOf('.'))}.${'A'.repeat(86)}`;
    expect(await meCodes(forged)).toEqual(['INVALID_TOKEN']);
  });

  it('refuses a token not yet valid (nbf) beyond the tolerance', async () => {
    const now = Math.floor(t.clock().getTime() / 1000);
    expect(await meCodes(await signWithOurKey({ nbf: now + 120 }))).toEqual(['INVALID_TOKEN']);
  });

  it('refuses things that are not JWTs, and a malformed Authorization header', async () => {
    for (const token of ['garbage', 'a.b.c', 'a.b', '....', `${'x'.repeat(10_000)}`]) {
      expect(await meCodes(token), token.slice(0, 20)).toEqual(['INVALID_TOKEN']);
    }
    const basic = await t.gql('{ me { id } }', {}, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(codes(basic)).toEqual(['INVALID_TOKEN']);
  });
});
