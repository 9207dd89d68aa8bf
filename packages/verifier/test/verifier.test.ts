import { SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createVerifier, type Verifier, type VerifierOptions } from '../src/index.js';
import { AUDIENCE, FEED_KEY, ISSUER, newSigner, startFakeTidepass } from './fake-tidepass.js';

type Fake = Awaited<ReturnType<typeof startFakeTidepass>>;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(options: Partial<VerifierOptions> = {}, fakeOptions: Parameters<typeof startFakeTidepass>[0] = {}) {
  const fake = await startFakeTidepass(fakeOptions);
  cleanups.push(() => fake.close());
  const errors: Error[] = [];
  const verifier = createVerifier({
    url: fake.url,
    issuer: ISSUER,
    audience: AUDIENCE,
    feedKey: FEED_KEY,
    reconnect: { initial: 20, max: 50 },
    onError: (error) => errors.push(error),
    ...options,
  });
  cleanups.push(() => verifier.close());
  return { fake, verifier, errors };
}

async function ready(fake: Fake, verifier: Verifier) {
  await verifier.ready();
  return fake;
}

describe('token rules (the same as tidepass)', () => {
  it('accepts a token of tidepass and gives its claims', async () => {
    const { fake, verifier } = await setUp();
    await ready(fake, verifier);
    const sub = crypto.randomUUID();
    const sid = crypto.randomUUID();
    const result = await verifier.verify(await fake.sign({ sub, sid, amr: ['pwd'], auth_time: 1_700_000_000 }));
    expect(result).toMatchObject({ ok: true, claims: { userId: sub, sessionId: sid, amr: ['pwd'], authTime: new Date(1_700_000_000_000) } });
  });

  it.each<[string, { header?: Record<string, unknown>; claims?: Record<string, unknown> }]>([
    ['no typ at+jwt', { header: { typ: 'JWT' } }],
    ['another issuer', { claims: { iss: 'https://elsewhere' } }],
    ['another audience', { claims: { aud: 'other' } }],
    ['a sub that is not a UUID', { claims: { sub: 'admin' } }],
    ['a sid that is not a UUID', { claims: { sid: 'x' } }],
    ['no jti', { claims: { jti: undefined } }],
    ['an iat in the future', { claims: { iat: Math.floor(Date.now() / 1000) + 120 } }],
    ['an unknown kid', { header: { kid: 'nobody' } }],
    ['amr that is not a list of strings', { claims: { amr: 'pwd' } }],
  ])('refuses a token with %s: INVALID_TOKEN', async (_name, { header, claims }) => {
    const { fake, verifier } = await setUp({ jwksCooldown: 60_000 });
    await ready(fake, verifier);
    const token = await fake.sign(claims ?? {}, header ?? {});
    expect(await verifier.verify(token)).toEqual({ ok: false, code: 'INVALID_TOKEN' });
  });

  it('refuses a token that is not ES256, a token too long and one that is no JWT', async () => {
    const { fake, verifier } = await setUp();
    await ready(fake, verifier);
    const hs = await new SignJWT({ sub: crypto.randomUUID(), sid: crypto.randomUUID(), jti: 'j' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'key-1' })
      .setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime('5m')
      .sign(new TextEncoder().encode('s'.repeat(32)));
    expect(await verifier.verify(hs)).toEqual({ ok: false, code: 'INVALID_TOKEN' });
    expect(await verifier.verify(await fake.sign({ pad: 'x'.repeat(4100) }))).toEqual({ ok: false, code: 'INVALID_TOKEN' });
    expect(await verifier.verify('not.a.jwt')).toEqual({ ok: false, code: 'INVALID_TOKEN' });
    expect(await verifier.authenticate('Basic abc')).toEqual({ ok: false, code: 'INVALID_TOKEN' });
    expect(await verifier.authenticate(undefined)).toBeNull();
  });

  it('says TOKEN_EXPIRED past exp plus 30 s, also for a cached token', async () => {
    let now = new Date('2030-01-01T00:00:00Z');
    const clock = () => now;
    const { fake, verifier } = await setUp({ clock }, { clock, accessTokenTtl: 60 });
    await ready(fake, verifier);
    const token = await fake.sign({});
    expect((await verifier.verify(token)).ok).toBe(true);
    now = new Date(now.getTime() + 89_000);
    expect((await verifier.verify(token)).ok).toBe(true);
    now = new Date(now.getTime() + 1_000);
    expect(await verifier.verify(token)).toEqual({ ok: false, code: 'TOKEN_EXPIRED' });
  });

  it('fetches the key set again for an unknown kid, once per cooldown', async () => {
    let monotonic = 0;
    const { fake, verifier } = await setUp({ monotonic: () => monotonic, jwksCooldown: 30_000 });
    await ready(fake, verifier);
    const next = await newSigner('key-2');
    fake.signers.push(next);
    const token = await fake.sign({}, {}, next);
    expect(await verifier.verify(token)).toEqual({ ok: false, code: 'INVALID_TOKEN' });
    monotonic += 30_000;
    // As long a silence would count as the feed being down: a heartbeat says it is not.
    fake.writeRaw(': heartbeat\n\n');
    await vi.waitFor(async () => expect((await verifier.verify(token)).ok).toBe(true));
    expect(fake.requests.filter((r) => r.path === '/.well-known/jwks.json')).toHaveLength(2);
  });
});

describe('revocations from the feed', () => {
  it('refuses a session ended in the snapshot or live, and tells onRevoked once per end', async () => {
    const { fake, verifier } = await setUp();
    const [early, later] = [crypto.randomUUID(), crypto.randomUUID()];
    const userId = crypto.randomUUID();
    fake.setSnapshot([{ sessionId: early, userId, endedAt: new Date() }]);
    const told = vi.fn();
    verifier.onRevoked(told);
    await ready(fake, verifier);
    expect(await verifier.verify(await fake.sign({ sid: early }))).toEqual({ ok: false, code: 'SESSION_REVOKED' });
    const token = await fake.sign({ sid: later, sub: userId });
    expect((await verifier.verify(token)).ok).toBe(true);
    fake.push({ sessionId: later, userId, endedAt: new Date(), reason: 'REVOKED_BY_USER' });
    fake.push({ sessionId: later, userId, endedAt: new Date(), reason: 'REVOKED_BY_USER' });
    await vi.waitFor(async () => expect(await verifier.verify(token)).toEqual({ ok: false, code: 'SESSION_REVOKED' }));
    expect(told.mock.calls.map(([end]) => end.sessionId)).toEqual([early, later]);
    expect(told).toHaveBeenLastCalledWith(expect.objectContaining({ userId, reason: 'REVOKED_BY_USER' }));
  });

  it('reconnects after a cut and resumes from the latest event id', async () => {
    const { fake, verifier } = await setUp();
    await ready(fake, verifier);
    const endedAt = new Date();
    const sessionId = crypto.randomUUID();
    fake.push({ sessionId, userId: crypto.randomUUID(), endedAt });
    fake.push({ sessionId: crypto.randomUUID(), userId: crypto.randomUUID(), endedAt: new Date(endedAt.getTime() - 5_000) });
    await vi.waitFor(() => expect(verifier.stats().revokedSessions).toBe(2));
    fake.dropConnections();
    await vi.waitFor(() => expect(fake.requests.filter((r) => r.path === '/revocations')).toHaveLength(2));
    expect(fake.requests.at(-1)!.lastEventId).toBe(`${endedAt.getTime()}-${sessionId}`);
  });

  it('holds an end only while a token of its session could pass, and keeps the cache bounded', async () => {
    let now = new Date('2030-01-01T00:00:00Z');
    const clock = () => now;
    const { fake, verifier } = await setUp({ clock, cacheSize: 3 }, { clock, accessTokenTtl: 60 });
    await ready(fake, verifier);
    for (let i = 0; i < 50; i += 1) fake.push({ sessionId: crypto.randomUUID(), userId: crypto.randomUUID(), endedAt: now });
    await vi.waitFor(() => expect(verifier.stats().revokedSessions).toBe(50));
    for (let i = 0; i < 10; i += 1) await verifier.verify(await fake.sign({}));
    expect(verifier.stats().cachedTokens).toBe(3);
    now = new Date(now.getTime() + 90_000);
    expect(verifier.stats().revokedSessions).toBe(50);
    now = new Date(now.getTime() + 1);
    expect(verifier.stats().revokedSessions).toBe(0);
  });
});

describe('availability', () => {
  it('fails closed once the feed has been down longer than maxStaleness, and recovers on reconnect', async () => {
    let monotonic = 0;
    const { fake, verifier } = await setUp({ monotonic: () => monotonic, maxStaleness: 5_000 });
    await ready(fake, verifier);
    const token = await fake.sign({});
    fake.refuseWith(503);
    fake.dropConnections();
    await vi.waitFor(() => expect(fake.requests.filter((r) => r.path === '/revocations').length).toBeGreaterThan(2));
    monotonic += 5_000;
    expect((await verifier.verify(token)).ok).toBe(true);
    monotonic += 1;
    expect(await verifier.verify(token)).toEqual({ ok: false, code: 'VERIFIER_UNAVAILABLE' });
    fake.refuseWith(undefined);
    await vi.waitFor(async () => expect((await verifier.verify(token)).ok).toBe(true));
  });

  it("keeps accepting past maxStaleness with whenStale: 'accept'", async () => {
    let monotonic = 0;
    const { fake, verifier } = await setUp({ monotonic: () => monotonic, maxStaleness: 5_000, whenStale: 'accept' });
    await ready(fake, verifier);
    fake.refuseWith(503);
    fake.dropConnections();
    monotonic += 60_000;
    expect((await verifier.verify(await fake.sign({}))).ok).toBe(true);
  });

  it('counts silence beyond a heartbeat as down', async () => {
    let monotonic = 0;
    const { fake, verifier } = await setUp({ monotonic: () => monotonic, maxStaleness: 5_000 });
    await ready(fake, verifier);
    const token = await fake.sign({});
    monotonic += 15_000 + 2_000 + 5_001;
    expect(await verifier.verify(token)).toEqual({ ok: false, code: 'VERIFIER_UNAVAILABLE' });
    fake.writeRaw(': heartbeat\n\n');
    await vi.waitFor(async () => expect((await verifier.verify(token)).ok).toBe(true));
  });

  it('rejects ready() for a wrong feed key or a feed of another issuer', async () => {
    const wrongKey = await setUp({ feedKey: 'w'.repeat(40) });
    await expect(wrongKey.verifier.ready()).rejects.toThrow(/HTTP 401/);
    const otherIssuer = await setUp({ issuer: 'https://other' });
    await expect(otherIssuer.verifier.ready()).rejects.toThrow(/issuer/);
  });

  it('answers VERIFIER_UNAVAILABLE before the first snapshot', async () => {
    const { fake, verifier } = await setUp();
    fake.refuseWith(503);
    expect(await verifier.verify(await fake.sign({}))).toEqual({ ok: false, code: 'VERIFIER_UNAVAILABLE' });
  });

  it('refuses bad options at creation, one line per problem', () => {
    expect(() => createVerifier({ url: 'nope', issuer: '', audience: 'a', feedKey: 'short' })).toThrow(
      /url: not a URL\n {2}issuer: required\n {2}feedKey: at least 32 characters/,
    );
  });
});
