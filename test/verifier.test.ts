import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { createVerifier, type Revoked, type VerifierOptions, type VerifyFailureCode } from '../packages/verifier/src/index.js';
import { login, PASSWORD, refresh, REFRESH, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { fakeClock } from './helpers/clock.js';
import { FEED_KEY, switchableFetch, useFeedApps, type FeedApp } from './helpers/feed.js';
import { codes } from './helpers/gql.js';
import { eventually } from './helpers/eventually.js';

/** @tidepass/verifier (packages/verifier) against a real tidepass, through its port. */

const feeds = useFeedApps({ revocationStream: { heartbeatMs: 100 } });
const tidepass = feeds.start;

async function verifierOf(app: FeedApp, options: Partial<VerifierOptions> = {}) {
  const route = switchableFetch(app.url);
  const revoked: Revoked[] = [];
  const verifier = createVerifier({
    url: route.base,
    issuer: app.app.config.jwtIssuer,
    audience: app.app.config.jwtAudience,
    feedKey: FEED_KEY,
    fetch: route.fetch,
    clock: app.clock,
    reconnect: { initial: 20, max: 100 },
    onError: () => {},
    ...options,
  });
  feeds.defer(() => verifier.close());
  verifier.onRevoked((end) => revoked.push(end));
  await verifier.ready();
  return { verifier, route, revoked };
}

type Verifier = Awaited<ReturnType<typeof verifierOf>>['verifier'];

async function refusedWith(verifier: Verifier, token: string, code: VerifyFailureCode): Promise<void> {
  await eventually(async () => {
    const result = await verifier.verify(token);
    return !result.ok && result.code === code;
  });
}

async function mutate(app: FeedApp, query: string, token: string, variables: Record<string, unknown> = {}) {
  const result = await app.gql(query, variables, { token });
  expect(result.errors).toBeUndefined();
  return result.data;
}

describe('refusal after each kind of end', () => {
  it('refuses the token after logout within milliseconds, and tells onRevoked', async () => {
    const app = await tidepass();
    const { verifier, revoked } = await verifierOf(app);
    const session = await signUp(app.gql);
    expect(await verifier.verify(session.accessToken)).toMatchObject({
      ok: true,
      claims: { userId: session.user.id, sessionId: session.session.id, expiresAt: new Date(session.accessTokenExpiresAt) },
    });
    await mutate(app, 'mutation { logout }', session.accessToken);
    const answered = performance.now();
    await refusedWith(verifier, session.accessToken, 'SESSION_REVOKED');
    // Loose on a shared, loaded machine; the benchmark measures the real figure.
    expect(performance.now() - answered).toBeLessThan(1_000);
    expect(revoked).toContainEqual(
      expect.objectContaining({ sessionId: session.session.id, userId: session.user.id, reason: 'LOGOUT' }),
    );
    expect(await verifier.authenticate(`Bearer ${session.accessToken}`)).toEqual({ ok: false, code: 'SESSION_REVOKED' });
  });

  async function twoDevices(app: FeedApp) {
    const email = uniqueEmail();
    const laptop = await signUp(app.gql, { email });
    const phone = await login(app.gql, { email });
    return { laptop, phone };
  }

  it.each([
    ['revokeDevice', 'REVOKED_BY_USER'],
    ['revokeOtherSessions', 'OTHER_SESSIONS_REVOKED'],
    ['changePassword', 'PASSWORD_CHANGED'],
  ])("refuses the other device's token after %s", async (mutation, reason) => {
    const app = await tidepass();
    const { verifier, revoked } = await verifierOf(app);
    const { laptop, phone } = await twoDevices(app);
    expect((await verifier.verify(phone.accessToken)).ok).toBe(true);
    const query = {
      revokeDevice: 'mutation ($id: ID!) { revokeDevice(sessionId: $id) }',
      revokeOtherSessions: 'mutation { revokeOtherSessions }',
      changePassword: `mutation { changePassword(currentPassword: "${PASSWORD}", newPassword: "another horse battery staple") { accessToken } }`,
    }[mutation]!;
    await mutate(app, query, laptop.accessToken, { id: phone.session.id });
    await refusedWith(verifier, phone.accessToken, 'SESSION_REVOKED');
    expect(revoked).toContainEqual(expect.objectContaining({ sessionId: phone.session.id, reason }));
  });

  it("refuses the family's token after its refresh token is replayed (reuse)", async () => {
    const app = await tidepass();
    const { verifier } = await verifierOf(app);
    const session = await signUp(app.gql);
    const rotated = await refresh(app.gql, session.refreshToken);
    app.clock.advance(11);
    expect(codes(await app.gql(REFRESH, { refreshToken: session.refreshToken }))).toEqual(['REFRESH_TOKEN_REUSED']);
    await refusedWith(verifier, rotated.accessToken, 'SESSION_REVOKED');
  });

  it('refuses a session that expired (idle) while its token was unexpired; says TOKEN_EXPIRED once the token is', async () => {
    const app = await tidepass({ env: { SESSION_IDLE_TIMEOUT: '60' } });
    const { verifier, revoked } = await verifierOf(app);
    const idle = await signUp(app.gql);
    app.clock.advance(61);
    expect((await verifier.verify(idle.accessToken)).ok).toBe(true);
    await app.app.sweepExpiredSessions();
    await refusedWith(verifier, idle.accessToken, 'SESSION_REVOKED');
    expect(revoked).toContainEqual(expect.objectContaining({ sessionId: idle.session.id, reason: 'EXPIRED' }));
    // exp + 30 s of tolerance, as tidepass itself.
    app.clock.advance(900 + 30 - 61);
    expect(await verifier.verify(idle.accessToken)).toEqual({ ok: false, code: 'TOKEN_EXPIRED' });
  });
});

describe('keys and availability', () => {
  async function privateJwk(kid: string) {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    return { private: { ...(await exportJWK(privateKey)), kid }, public: { ...(await exportJWK(publicKey)), kid } };
  }

  it("picks up a new signing key (a kid it has not seen) without a restart, and still accepts the previous key's tokens", async () => {
    const [first, next] = [await privateJwk('first'), await privateJwk('next')];
    const before = await tidepass({ env: { JWT_PRIVATE_KEY: JSON.stringify(first.private) } });
    const { verifier, route } = await verifierOf(before, { jwksCooldown: 0 });
    const old = await signUp(before.gql);
    expect((await verifier.verify(old.accessToken)).ok).toBe(true);

    // The rotation's step: the next key signs, the previous one is still published until its tokens expire.
    await before.stop();
    const after = await tidepass({
      clock: before.clock,
      env: { JWT_PRIVATE_KEY: JSON.stringify(next.private), JWT_VERIFICATION_KEYS: JSON.stringify([first.public]) },
    });
    route.switchTo(after.url);
    const current = await signUp(after.gql);
    await eventually(async () => (await verifier.verify(current.accessToken)).ok);
    expect(await verifier.verify(current.accessToken)).toMatchObject({ ok: true, claims: { sessionId: current.session.id } });
    expect((await verifier.verify(old.accessToken)).ok).toBe(true);
  });

  it('fails closed once the feed has been down longer than maxStaleness, and recovers on reconnect without missing an end', async () => {
    let monotonic = 0;
    const before = await tidepass();
    const { verifier, route } = await verifierOf(before, { maxStaleness: 5_000, monotonic: () => monotonic });
    const email = uniqueEmail();
    const kept = await signUp(before.gql, { email });
    const ended = await login(before.gql, { email });
    expect((await verifier.verify(ended.accessToken)).ok).toBe(true);

    await before.stop();
    await eventually(() => !verifier.stats().feedSynced);
    monotonic += 5_000;
    expect((await verifier.verify(kept.accessToken)).ok).toBe(true);
    monotonic += 1;
    expect(await verifier.verify(kept.accessToken)).toEqual({ ok: false, code: 'VERIFIER_UNAVAILABLE' });

    // Committed while the verifier cannot hear: it must arrive after the reconnection.
    const after = await tidepass({ clock: before.clock });
    await mutate(after, 'mutation { logout }', ended.accessToken);
    route.switchTo(after.url);
    await refusedWith(verifier, ended.accessToken, 'SESSION_REVOKED');
    expect((await verifier.verify(kept.accessToken)).ok).toBe(true);
  });

  it('holds an end only while a token of its session could pass, and caches at most cacheSize tokens', async () => {
    // A year ahead: the ends of this file's other tests are far outside the window.
    const app = await tidepass({ clock: fakeClock(new Date(Date.now() + 365 * 86_400_000)) });
    const { verifier } = await verifierOf(app, { cacheSize: 3 });
    const email = uniqueEmail();
    const laptop = await signUp(app.gql, { email });
    const phones = await Promise.all([1, 2, 3].map(() => login(app.gql, { email })));
    let token = laptop.accessToken;
    let refreshToken = laptop.refreshToken;
    for (let i = 0; i < 6; i += 1) {
      expect((await verifier.verify(token)).ok).toBe(true);
      ({ accessToken: token, refreshToken } = await refresh(app.gql, refreshToken));
    }
    expect(verifier.stats().cachedTokens).toBe(3);
    await mutate(app, 'mutation { revokeOtherSessions }', token);
    await eventually(() => verifier.stats().revokedSessions === phones.length);
    app.clock.advance(900 + 30);
    expect(verifier.stats().revokedSessions).toBe(phones.length);
    app.clock.advance(1);
    expect(verifier.stats().revokedSessions).toBe(0);
  });
});
