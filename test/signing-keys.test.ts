import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { createTestApp, useTestApp, withTestApp, type TestApp } from './helpers/app.js';
import { login, REFRESH, signUp } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

const t = useTestApp();

const jwksOf = async (app: TestApp) =>
  (await app.app.yoga.fetch('http://localhost/.well-known/jwks.json')).json() as Promise<{ keys: { kid: string }[] }>;

describe('signing keys', () => {
  it('serves the JWKS as application/jwk-set+json', async () => {
    const response = await t.app.yoga.fetch('http://localhost/.well-known/jwks.json');
    expect(response.headers.get('content-type')).toBe('application/jwk-set+json');
    expect((await response.json()).keys).toHaveLength(1);
  });

  it('keeps the generated key in the database, so an instance started later accepts issued tokens', async () => {
    const session = await signUp(t.gql);
    await withTestApp({ beside: t }, async (later) => {
      expect(await jwksOf(later)).toEqual(await jwksOf(t));
      const me = await later.gql('{ me { id } }', {}, { token: session.accessToken });
      expect(me.errors).toBeUndefined();
      expect(me.data).toEqual({ me: { id: session.user.id } });
      expect(codes(await later.gql(REFRESH, { refreshToken: session.refreshToken }))).toEqual([]);
    });
  });

  it('signs with JWT_PRIVATE_KEY when it is given, and then trusts only that key', async () => {
    const stored = await signUp(t.gql);
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(privateKey);
    await withTestApp({ env: { JWT_PRIVATE_KEY: JSON.stringify(jwk) }, beside: t }, async (given) => {
      const jwks = await jwksOf(given);
      // Without a kid in the JWK, the kid is its RFC 7638 thumbprint.
      expect(jwks.keys).toEqual([expect.objectContaining({ kty: 'EC', x: jwk.x, y: jwk.y, kid: expect.any(String) })]);
      expect(jwks.keys[0]!.kid).not.toBe((await jwksOf(t)).keys[0]!.kid);
      expect(JSON.stringify(jwks)).not.toContain(jwk.d!);

      const session = await login(given.gql, { email: stored.user.email });
      expect(codes(await given.gql('{ me { id } }', {}, { token: session.accessToken }))).toEqual([]);
      // A token of the stored key is not ours any more, and the other way round.
      expect(codes(await given.gql('{ me { id } }', {}, { token: stored.accessToken }))).toEqual(['INVALID_TOKEN']);
      expect(codes(await t.gql('{ me { id } }', {}, { token: session.accessToken }))).toEqual(['INVALID_TOKEN']);
    });
  });
});

describe('rotating the signing key (JWT_VERIFICATION_KEYS)', () => {
  const newKey = async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const { kty, crv, x, y, d } = await exportJWK(privateKey);
    const kid = crypto.randomUUID();
    return { private: { kty, crv, x, y, d, kid }, public: { kty, crv, x, y, kid } };
  };
  const withKeys = (signing: { kid: string }, ...accepted: { kid: string }[]) =>
    createTestApp({
      env: { JWT_PRIVATE_KEY: JSON.stringify(signing), JWT_VERIFICATION_KEYS: JSON.stringify(accepted) },
      beside: t,
    });
  const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;

  it('publishes the next key first, then signs with it while the previous one is still accepted: nobody is signed out', async () => {
    const [old, next] = [await newKey(), await newKey()];
    const user = await signUp(t.gql);
    // 1. Still signing with the old key, the next one published (verifiers fetch it before it signs).
    const before = await withKeys(old.private, next.public);
    // 2. Signing with the next key, the old one still accepted until its tokens have expired.
    const after = await withKeys(next.private, old.public);
    // 3. The old key's tokens have expired: it is dropped.
    const later = await withKeys(next.private);
    try {
      expect((await jwksOf(before)).keys.map((key) => key.kid)).toEqual([old.public.kid, next.public.kid]);
      expect((await jwksOf(after)).keys.map((key) => key.kid)).toEqual([next.public.kid, old.public.kid]);
      expect(JSON.stringify(await jwksOf(after))).not.toContain(next.private.d!);

      const signedBefore = await login(before.gql, { email: user.user.email });
      const signedAfter = await login(after.gql, { email: user.user.email });
      expect([kidOf(signedBefore.accessToken), kidOf(signedAfter.accessToken)]).toEqual([old.public.kid, next.public.kid]);
      for (const app of [before, after]) {
        for (const token of [signedBefore.accessToken, signedAfter.accessToken]) {
          expect(codes(await app.gql('{ me { id } }', {}, { token }))).toEqual([]);
        }
      }
      expect(codes(await later.gql('{ me { id } }', {}, { token: signedBefore.accessToken }))).toEqual(['INVALID_TOKEN']);
      expect(codes(await later.gql('{ me { id } }', {}, { token: signedAfter.accessToken }))).toEqual([]);
    } finally {
      await Promise.all([before.close(), after.close(), later.close()]);
    }
  });

  it('accepts the stored key\'s tokens beside a given key, and refuses to start on a key that is not one, or a kid that names two keys', async () => {
    const stored = await signUp(t.gql);
    const storedKey = (await jwksOf(t)).keys[0] as { kid: string };
    const given = await newKey();
    const app = await withKeys(given.private, storedKey);
    try {
      expect(codes(await app.gql('{ me { id } }', {}, { token: stored.accessToken }))).toEqual([]);
    } finally {
      await app.close();
    }
    const offCurve = { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'off-curve' };
    await expect(withKeys(given.private, offCurve)).rejects.toThrow(/JWT_VERIFICATION_KEYS: a key is not a point on P-256$/);
    const impostor = { ...(await newKey()).public, kid: given.public.kid };
    await expect(withKeys(given.private, impostor)).rejects.toThrow(
      /^Invalid configuration:\n {2}JWT_VERIFICATION_KEYS: kid "[^"]+" already names another key$/,
    );
  });
});
