import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { refreshTokens, users } from '../src/db/schema.js';
import { useTestApp } from './helpers/app.js';
import { login, meCodes, REFRESH, refresh, refreshCodes, signUp, uniqueEmail, type Payload } from './helpers/auth-flows.js';
import { backend } from './helpers/database.js';
import { codes } from './helpers/gql.js';
import { eventually } from './helpers/eventually.js';

/** The default REFRESH_REUSE_GRACE, in seconds. */
const REFRESH_REUSE_GRACE = 10;

const t = useTestApp();
/** A second app on the same database with REFRESH_REUSE_GRACE=0: every spent token is theft. */
const noGrace = useTestApp({ env: { REFRESH_REUSE_GRACE: '0' }, beside: t });


describe('rotation', () => {
  it('spends the token and returns a successor that works, with a new access token', async () => {
    const first = await signUp(t.gql);
    t.clock.advance(60);
    const second = await refresh(t.gql, first.refreshToken);
    expect(second.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.session.id).toBe(first.session.id);
    expect(second.user).toEqual(first.user);
    expect(await meCodes(t.gql, second.accessToken)).toEqual([]);

    t.clock.advance(60);
    const third = await refresh(t.gql, second.refreshToken);
    expect(third.session.id).toBe(first.session.id);
  });

  it("moves the session's lastUsedAt and its idle end forward", async () => {
    const first = await signUp(t.gql);
    t.clock.advance(3600);
    const second = await refresh(t.gql, first.refreshToken);
    expect(second.session.lastUsedAt).toBe(t.clock().toISOString());
    expect(second.session.createdAt).toBe(first.session.createdAt);
    expect(new Date(second.refreshTokenExpiresAt).getTime() - new Date(first.refreshTokenExpiresAt).getTime()).toBe(
      3600_000,
    );
    expect(second.session.expiresAt).toBe(second.refreshTokenExpiresAt);
  });

  it.each([
    ['no token', null],
    ['an empty token', ''],
    ['a malformed token', 'not a token'],
    ['a well-formed token that was never issued', 'A'.repeat(43)],
  ])('answers INVALID_REFRESH_TOKEN for %s', async (_name, token) => {
    expect(await refreshCodes(t.gql, token)).toEqual(['INVALID_REFRESH_TOKEN']);
  });
});

describe('at rest', () => {
  it('stores only the SHA-256 of refresh tokens and an argon2id hash of the password', async () => {
    const first = await signUp(t.gql);
    const second = await refresh(t.gql, first.refreshToken);
    const db = t.database.handle.db;
    const rows = await db.select().from(refreshTokens).where(eq(refreshTokens.sessionId, first.session.id));
    const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
    expect(rows.map((row) => row.tokenHash).sort()).toEqual([sha256(first.refreshToken), sha256(second.refreshToken)].sort());
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(first.refreshToken);
    expect(stored).not.toContain(second.refreshToken);

    const [user] = await db.select().from(users).where(eq(users.id, first.user.id));
    expect(user!.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });
});

describe('a stolen refresh token that the thief rotates first', () => {
  const thief = { headers: { 'user-agent': 'thief/1.0' } };
  const thiefRefresh = async (refreshToken: string) => {
    const result = await t.gql(REFRESH, { refreshToken }, thief);
    expect(result.errors).toBeUndefined();
    return result.data!.refresh as { accessToken: string; refreshToken: string };
  };

  it('answers the owner inside the grace window as a lost response (nothing revoked yet), then REFRESH_TOKEN_REUSED, which ends the family for the thief too', async () => {
    const owner = await signUp(t.gql);
    // The thief copied the owner's refresh token and spends it first.
    const stolen = await thiefRefresh(owner.refreshToken);
    t.clock.advance(3);

    // The owner's next refresh presents the same, now spent, token: within REFRESH_REUSE_GRACE of its
    // spending and its successor never used, it is a lost response: the owner gets that successor too.
    expect((await refresh(t.gql, owner.refreshToken)).refreshToken).toBe(stolen.refreshToken);
    expect(await meCodes(t.gql, stolen.accessToken)).toEqual([]);
    // The thief moves on first; the owner's retry inside the window then gets nothing ...
    const moved = await thiefRefresh(stolen.refreshToken);
    expect(await refreshCodes(t.gql, owner.refreshToken)).toEqual(['REFRESH_TOKEN_ROTATED']);

    // ... and once the window has passed, the same token is theft: the whole session ends.
    t.clock.advance(REFRESH_REUSE_GRACE);
    expect(await meCodes(t.gql, moved.accessToken)).toEqual([]);
    expect(await refreshCodes(t.gql, owner.refreshToken)).toEqual(['REFRESH_TOKEN_REUSED']);
    expect(await refreshCodes(t.gql, stolen.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(await meCodes(t.gql, stolen.accessToken)).toEqual(['SESSION_REVOKED']);
    expect(await meCodes(t.gql, owner.accessToken)).toEqual(['SESSION_REVOKED']);
    expect(codes(await t.gql(REFRESH, { refreshToken: stolen.refreshToken }, thief))).toEqual(['INVALID_REFRESH_TOKEN']);
  });

  it('answers the owner REFRESH_TOKEN_REUSED at once, and ends the family, when the thief has rotated three times', async () => {
    const owner = await signUp(t.gql);
    const once = await thiefRefresh(owner.refreshToken);
    const twice = await thiefRefresh(once.refreshToken);
    const thrice = await thiefRefresh(twice.refreshToken);
    t.clock.advance(1);

    // The owner's token is an older ancestor, not a step behind another tab: no grace.
    expect(await refreshCodes(t.gql, owner.refreshToken)).toEqual(['REFRESH_TOKEN_REUSED']);
    expect(codes(await t.gql(REFRESH, { refreshToken: thrice.refreshToken }, thief))).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(await meCodes(t.gql, thrice.accessToken)).toEqual(['SESSION_REVOKED']);
  });

  it('ends the family when the thief comes back with the token after the owner rotated it', async () => {
    const owner = await signUp(t.gql);
    const next = await refresh(t.gql, owner.refreshToken);
    t.clock.advance(REFRESH_REUSE_GRACE);
    expect(codes(await t.gql(REFRESH, { refreshToken: owner.refreshToken }, thief))).toEqual(['REFRESH_TOKEN_REUSED']);
    expect(await refreshCodes(t.gql, next.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(await meCodes(t.gql, next.accessToken)).toEqual(['SESSION_REVOKED']);
  });
});

describe('concurrency', () => {
  it('rotates once for 20 simultaneous refreshes with one token: all get the same successor', async () => {
    const first = await signUp(t.gql);
    const results = await Promise.all(Array.from({ length: 20 }, () => t.gql(REFRESH, { refreshToken: first.refreshToken })));

    // One rotated it; the others are retries of a token spent a moment ago whose successor was never used.
    expect(results.flatMap(codes)).toEqual([]);
    const successors = new Set(results.map((result) => result.data!['refresh'].refreshToken as string));
    expect(successors.size).toBe(1);
    const rows = await t.database.handle.db.select().from(refreshTokens).where(eq(refreshTokens.sessionId, first.session.id));
    expect(rows).toHaveLength(2);
    const next = await refresh(t.gql, [...successors][0]!);
    expect(next.session.id).toBe(first.session.id);
  });

  it('gives exactly one success to 20 simultaneous refreshes without a grace window', async () => {
    const first = await signUp(noGrace.gql);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => noGrace.gql(REFRESH, { refreshToken: first.refreshToken })),
    );

    const winners = results.filter((result) => !result.errors);
    expect(winners).toHaveLength(1);
    // The first loser is theft and ends the session; later ones find it over (or are theft too).
    const losers = results.flatMap(codes);
    expect(losers).toHaveLength(19);
    expect(losers).toContain('REFRESH_TOKEN_REUSED');
    expect(losers.every((code) => code === 'REFRESH_TOKEN_REUSED' || code === 'INVALID_REFRESH_TOKEN')).toBe(true);
    expect(await meCodes(noGrace.gql, winners[0]!.data!.refresh.accessToken)).toEqual(['SESSION_REVOKED']);
  });

  it('rotates many sessions refreshing at once, each with its own successor, beside tokens that are refused', async () => {
    const live = await Promise.all(Array.from({ length: 30 }, () => signUp(t.gql)));
    const ended = await signUp(t.gql);
    await t.gql('mutation { logout }', {}, { token: ended.accessToken });
    const presented = [...live.map((s) => s.refreshToken), ended.refreshToken, 'x'.repeat(43), live[0]!.refreshToken];
    const results = await Promise.all(presented.map((refreshToken) => t.gql(REFRESH, { refreshToken })));

    const successes = results.slice(0, 30);
    expect(successes.flatMap(codes)).toEqual([]);
    // Each caller gets its own session back, and a successor of that session.
    expect(successes.map((r) => r.data!.refresh.session.id)).toEqual(live.map((s) => s.session.id));
    expect(results.slice(30).map(codes)).toEqual([['INVALID_REFRESH_TOKEN'], ['INVALID_REFRESH_TOKEN'], []]);
    // The token presented twice was rotated once: the second copy got the same successor.
    expect(results[32]!.data!.refresh.refreshToken).toBe(successes[0]!.data!.refresh.refreshToken);
    const again = await Promise.all(successes.map((r) => refresh(t.gql, r.data!.refresh.refreshToken)));
    expect(again.map((s) => s.session.id)).toEqual(live.map((s) => s.session.id));
    expect(await meCodes(t.gql, successes[7]!.data!.refresh.accessToken)).toEqual([]);
  });
});

describe.skipIf(backend !== 'postgres')('a batch of rotations beside a revocation of the same sessions (PostgreSQL only)', () => {
  it('ends the other sessions although the batch locked one of them first, waiting for it: no deadlock', async () => {
    // Sessions inserted one second apart, so that ending them visits them in insertion order whatever
    // the plan (heap order, or the (user_id, last_used_at) index); a batch locks them in id order.
    // Wanted: three sessions inserted in the order high, low, middle (of their ids).
    let found: { caller: Awaited<ReturnType<typeof signUp>>; high: Payload; low: Payload; middle: Payload } | undefined;
    while (!found) {
      const email = uniqueEmail();
      const caller = await signUp(t.gql, { email });
      const others: Payload[] = [];
      for (let i = 0; i < 9; i += 1) {
        t.clock.advance(1);
        others.push(await login(t.gql, { email }));
      }
      const id = (n: number) => others[n]!.session.id;
      for (let i = 0; i < others.length && !found; i += 1)
        for (let j = i + 1; j < others.length && !found; j += 1)
          for (let k = j + 1; k < others.length && !found; k += 1)
            if (id(j) < id(k) && id(k) < id(i)) found = { caller, high: others[i]!, low: others[j]!, middle: others[k]! };
    }
    const { caller, high, low, middle } = found;
    const other = postgres(t.database.url!, { max: 2, onnotice: () => {} });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const waiting = (pattern: string) =>
      eventually(async () => {
        const rows = await other`select 1 from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and query like ${pattern}`;
        return rows.length > 0;
      });
    try {
      let held!: () => void;
      const isHeld = new Promise<void>((resolve) => (held = resolve));
      const holder = other.begin(async (tx) => {
        await tx`select 1 from sessions where id = ${middle.session.id} for update`;
        held();
        await released;
      });
      await isHeld;
      const deadlocks = async () =>
        Number((await other`select deadlocks from pg_stat_database where datname = current_database()`)[0]!.deadlocks);
      const deadlocksBefore = await deadlocks();
      // One statement for the three: it locks the low session, then waits for the middle one.
      const refreshes = Promise.all([low, middle, high].map((s) => t.gql(REFRESH, { refreshToken: s.refreshToken })));
      await waiting('%with presented%');
      // Ending the others, in the order the UPDATE visits them, would lock the high session before
      // waiting for the low one, and the batch, once the middle one is free, would wait for the high
      // one: a deadlock. In id order, the revocation waits for the low one and holds nothing the batch wants.
      const revoked = t.gql('mutation { revokeOtherSessions }', {}, { token: caller.accessToken });
      await waiting('%from "sessions"%for update%');
      release();
      await holder;
      const result = await revoked;
      expect(codes(result)).toEqual([]);
      expect(result.data!.revokeOtherSessions).toBe(9);
      for (const refreshed of await refreshes) {
        expect(['INVALID_REFRESH_TOKEN', undefined]).toContain(codes(refreshed)[0]);
      }
      // pg_stat_database's counters reach the view at the end of each backend's transaction, but
      // a deadlock's victim reports it when it fails, before our read.
      expect(await deadlocks()).toBe(deadlocksBefore);
    } finally {
      release();
      await other.end();
    }
  });
});
