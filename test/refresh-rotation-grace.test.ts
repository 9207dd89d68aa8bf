import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { openSuccessor } from '../src/auth/sealed-successor.js';
import { authEvents, refreshTokens, sessions } from '../src/db/schema.js';
import { useTestApp } from './helpers/app.js';
import { login, PASSWORD, meCodes, refresh, refreshCodes, signUp, uniqueEmail } from './helpers/auth-flows.js';

/** A spent refresh token presented again: a lost response, another tab, or theft (the grace window). */

/** The default REFRESH_REUSE_GRACE, in seconds. */
const REFRESH_REUSE_GRACE = 10;

const t = useTestApp();
/** A second app on the same database with REFRESH_REUSE_GRACE=0: every spent token is theft. */
const noGrace = useTestApp({ env: { REFRESH_REUSE_GRACE: '0' }, beside: t });


describe('the successor kept for a lost response', () => {
  it('is stored only sealed under its predecessor: no column holds it, nothing stored opens it, and it goes once spent', async () => {
    const first = await signUp(t.gql);
    const second = await refresh(t.gql, first.refreshToken);
    const db = t.database.handle.db;
    const rowsOf = () => db.select().from(refreshTokens).where(eq(refreshTokens.sessionId, first.session.id));
    const rows = await rowsOf();
    const everything = JSON.stringify([rows, await db.select().from(sessions), await db.select().from(authEvents)]);
    for (const form of [second.refreshToken, Buffer.from(second.refreshToken, 'base64url').toString('hex')]) {
      expect(everything).not.toContain(form);
    }
    const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
    const sealed = rows.find((row) => row.tokenHash === sha256(second.refreshToken))!.sealedForParent!;
    expect(sealed).toMatch(/^[A-Za-z0-9_-]+$/);
    // Only the predecessor opens it; what the database holds (hashes, ids) does not.
    expect(openSuccessor(first.refreshToken, sealed)).toBe(second.refreshToken);
    for (const stored of [...rows.flatMap((row) => [row.tokenHash, row.id]), first.session.id, sealed]) {
      expect(openSuccessor(stored, sealed)).toBeNull();
    }
    expect(openSuccessor(second.refreshToken, sealed)).toBeNull();

    await refresh(t.gql, second.refreshToken);
    const spent = (await rowsOf()).find((row) => row.tokenHash === sha256(second.refreshToken))!;
    expect(spent.sealedForParent).toBeNull();
  });
});

describe('reuse detection', () => {
  it('treats a spent token presented after the grace window as theft and ends the whole session', async () => {
    const email = uniqueEmail();
    const first = await signUp(t.gql, { email });
    const other = await login(t.gql, { email, deviceName: 'other device' });
    const second = await refresh(t.gql, first.refreshToken);
    t.clock.advance(11);

    expect(await refreshCodes(t.gql, first.refreshToken)).toEqual(['REFRESH_TOKEN_REUSED']);
    // The live token of the family fails from now on, and so does the session's access token.
    expect(await refreshCodes(t.gql, second.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(await meCodes(t.gql, second.accessToken)).toEqual(['SESSION_REVOKED']);
    expect(await meCodes(t.gql, first.accessToken)).toEqual(['SESSION_REVOKED']);
    // Presenting the stolen token again is just invalid now: the session is already over.
    expect(await refreshCodes(t.gql, first.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);

    // The user's other session is untouched.
    expect(await meCodes(t.gql, other.accessToken)).toEqual([]);
    const listed = await t.gql('{ mySessions { id } }', {}, { token: other.accessToken });
    expect(listed.data!.mySessions).toEqual([{ id: other.session.id }]);
    expect(await refreshCodes(t.gql, other.refreshToken)).toEqual([]);
  });

  it('answers a retry inside the grace window (a lost response) with the same successor and a new access token', async () => {
    const first = await signUp(t.gql);
    const second = await refresh(t.gql, first.refreshToken);
    t.clock.advance(9.999);

    const retried = await refresh(t.gql, first.refreshToken);
    expect(retried.refreshToken).toBe(second.refreshToken);
    expect(retried.session.id).toBe(first.session.id);
    expect(await meCodes(t.gql, retried.accessToken)).toEqual([]);
    // Again, as long as the successor was never used; nothing revoked, and the successor works.
    expect((await refresh(t.gql, first.refreshToken)).refreshToken).toBe(second.refreshToken);
    expect(await meCodes(t.gql, second.accessToken)).toEqual([]);
    const third = await refresh(t.gql, second.refreshToken);
    expect(third.session.id).toBe(first.session.id);
    expect(await meCodes(t.gql, third.accessToken)).toEqual([]);
  });

  it('answers REFRESH_TOKEN_ROTATED inside the grace window once the successor was used (another tab moved on)', async () => {
    const first = await signUp(t.gql);
    const second = await refresh(t.gql, first.refreshToken);
    t.clock.advance(1);
    const third = await refresh(t.gql, second.refreshToken);
    t.clock.advance(1);

    // Tab B still held `first`: nothing to hand it, nothing revoked.
    expect(await refreshCodes(t.gql, first.refreshToken)).toEqual(['REFRESH_TOKEN_ROTATED']);
    expect(await meCodes(t.gql, third.accessToken)).toEqual([]);
    // After the window, the same token is theft, as before.
    t.clock.advance(REFRESH_REUSE_GRACE);
    expect(await refreshCodes(t.gql, first.refreshToken)).toEqual(['REFRESH_TOKEN_REUSED']);
    expect(await meCodes(t.gql, third.accessToken)).toEqual(['SESSION_REVOKED']);
  });

  it('treats the immediate predecessor as theft once exactly REFRESH_REUSE_GRACE seconds have passed', async () => {
    const first = await signUp(t.gql);
    const second = await refresh(t.gql, first.refreshToken);
    t.clock.advance(10);

    expect(await refreshCodes(t.gql, first.refreshToken)).toEqual(['REFRESH_TOKEN_REUSED']);
    expect(await refreshCodes(t.gql, second.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(await meCodes(t.gql, second.accessToken)).toEqual(['SESSION_REVOKED']);
  });

  it('treats an older ancestor as theft even inside the grace window', async () => {
    const first = await signUp(t.gql);
    const second = await refresh(t.gql, first.refreshToken);
    const third = await refresh(t.gql, second.refreshToken);
    const fourth = await refresh(t.gql, third.refreshToken);
    t.clock.advance(1);

    // Its successor was used, and so was that one's: the family moved on by more than a tab's step.
    expect(await refreshCodes(t.gql, first.refreshToken)).toEqual(['REFRESH_TOKEN_REUSED']);
    expect(await refreshCodes(t.gql, fourth.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(await meCodes(t.gql, fourth.accessToken)).toEqual(['SESSION_REVOKED']);
  });

  it('answers REFRESH_TOKEN_ROTATED to a retry whose successor came from changePassword (nothing sealed for it)', async () => {
    const first = await signUp(t.gql);
    const changed = await t.gql(
      'mutation ($p: String!) { changePassword(currentPassword: $p, newPassword: "a brand new passphrase") { refreshToken } }',
      { p: PASSWORD },
      { token: first.accessToken },
    );
    expect(changed.errors).toBeUndefined();
    expect(await refreshCodes(t.gql, first.refreshToken)).toEqual(['REFRESH_TOKEN_ROTATED']);
    expect(await refreshCodes(t.gql, changed.data!['changePassword'].refreshToken)).toEqual([]);
  });

  it('has no grace at all when REFRESH_REUSE_GRACE is 0', async () => {
    const first = await signUp(noGrace.gql);
    const second = await refresh(noGrace.gql, first.refreshToken);

    expect(await refreshCodes(noGrace.gql, first.refreshToken)).toEqual(['REFRESH_TOKEN_REUSED']);
    expect(await refreshCodes(noGrace.gql, second.refreshToken)).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(await meCodes(noGrace.gql, second.accessToken)).toEqual(['SESSION_REVOKED']);
  });
});
