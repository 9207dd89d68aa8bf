import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { createTestApp, useStartedApp, withTestApp } from './helpers/app.js';
import { AUTH_FIELDS, login, LOGIN, PASSWORD, REFRESH, refresh, signUp, uniqueEmail, type Payload } from './helpers/auth-flows.js';
import { backend } from './helpers/database.js';
import { codes, type GqlResult } from './helpers/gql.js';
import { eventually } from './helpers/eventually.js';
import { collectRevocations, connected, wsClient } from './helpers/ws.js';

const CHANGE_PASSWORD = `mutation ($current: String!, $next: String!) {
  changePassword(currentPassword: $current, newPassword: $next) { ${AUTH_FIELDS} } }`;
const NEW_PASSWORD = 'a brand new passphrase';

const t = useStartedApp();

/** One account signed in on three devices. */
async function threeDevices() {
  const email = uniqueEmail();
  const laptop = await signUp(t.gql, { email, deviceName: 'laptop' });
  const phone = await login(t.gql, { email, deviceName: 'phone' });
  const tablet = await login(t.gql, { email, deviceName: 'tablet' });
  return { email, laptop, phone, tablet };
}

async function changePassword(token: string, current = PASSWORD, next = NEW_PASSWORD): Promise<Payload> {
  const result = await t.gql(CHANGE_PASSWORD, { current, next }, { token });
  if (result.errors) throw new Error(`changePassword failed: ${JSON.stringify(result.errors)}`);
  return result.data!.changePassword as Payload;
}

describe('changePassword', () => {
  it('sets the new password: the old one no longer logs in, the new one does', async () => {
    const { email, laptop } = await threeDevices();
    await changePassword(laptop.accessToken);
    const old = await t.gql('mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }', {
      e: email,
      p: PASSWORD,
    });
    expect(codes(old)).toEqual(['INVALID_CREDENTIALS']);
    expect(codes(await t.gql(LOGIN, { email, password: NEW_PASSWORD }))).toEqual([]);
  });

  it('ends every other session with PASSWORD_CHANGED: their access and refresh tokens are refused', async () => {
    const { laptop, phone, tablet } = await threeDevices();
    const payload = await changePassword(laptop.accessToken);

    for (const other of [phone, tablet]) {
      expect(codes(await t.gql('{ me { id } }', {}, { token: other.accessToken }))).toEqual(['SESSION_REVOKED']);
      expect(codes(await t.gql(REFRESH, { refreshToken: other.refreshToken }))).toEqual(['INVALID_REFRESH_TOKEN']);
    }
    const sessions = await t.gql('{ mySessions { id current } }', {}, { token: payload.accessToken });
    expect(sessions.data!.mySessions).toEqual([{ id: laptop.session.id, current: true }]);
  });

  it('rotates the current session: same session, new tokens, and the refresh token it held is spent', async () => {
    const { laptop } = await threeDevices();
    const payload = await changePassword(laptop.accessToken);
    expect(payload.session).toMatchObject({ id: laptop.session.id, current: true, deviceName: 'laptop' });
    expect(payload.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(payload.refreshToken).not.toBe(laptop.refreshToken);
    expect(payload.user.id).toBe(laptop.user.id);

    // Spent: within the grace window it is the predecessor of the live token.
    expect(codes(await t.gql(REFRESH, { refreshToken: laptop.refreshToken }))).toEqual(['REFRESH_TOKEN_ROTATED']);
    const next = await refresh(t.gql, payload.refreshToken);
    expect(next.session.id).toBe(laptop.session.id);
    expect((await t.gql('{ me { id } }', {}, { token: payload.accessToken })).errors).toBeUndefined();
  });

  it('tells live subscribers: the other devices hear PASSWORD_CHANGED about themselves and are closed 4403', async () => {
    const { laptop, phone, tablet } = await threeDevices();
    const phoneSocket = wsClient(t.url, { token: phone.accessToken });
    const phoneFeed = collectRevocations(phoneSocket);
    const laptopSocket = wsClient(t.url, { token: laptop.accessToken });
    const laptopFeed = collectRevocations(laptopSocket);
    const before = t.app.revocationFeed.subscriberCount;
    await Promise.all([connected(phoneSocket), connected(laptopSocket)]);
    await eventually(() => t.app.revocationFeed.subscriberCount >= before + 2);

    await changePassword(laptop.accessToken);

    expect(await phoneSocket.closed).toEqual({ code: 4403, reason: 'Session revoked' });
    expect(phoneFeed.events).toContainEqual(
      expect.objectContaining({ sessionId: phone.session.id, reason: 'PASSWORD_CHANGED', current: true }),
    );
    await laptopFeed.next(2);
    expect(laptopFeed.events.map(({ sessionId, reason, current }) => ({ sessionId, reason, current })).sort((a, b) =>
      a.sessionId.localeCompare(b.sessionId),
    )).toEqual(
      [phone.session.id, tablet.session.id]
        .sort()
        .map((sessionId) => ({ sessionId, reason: 'PASSWORD_CHANGED', current: false })),
    );
    expect(laptopSocket.closes).toEqual([]);
    await laptopSocket.dispose();
  });

  it('changes nothing when the current password is wrong: INVALID_CREDENTIALS, other sessions live', async () => {
    const { email, laptop, phone } = await threeDevices();
    const wrong = await t.gql(CHANGE_PASSWORD, { current: 'not my password', next: NEW_PASSWORD }, { token: laptop.accessToken });
    expect(codes(wrong)).toEqual(['INVALID_CREDENTIALS']);
    expect(wrong.data).toBeNull();
    expect((await t.gql('{ me { id } }', {}, { token: phone.accessToken })).errors).toBeUndefined();
    expect(codes(await t.gql(REFRESH, { refreshToken: laptop.refreshToken }))).toEqual([]);
    expect(codes(await t.gql(LOGIN, { email, password: PASSWORD }))).toEqual([]);
  });

  it.each([
    ['a new password of 7 characters', { next: 'short12' }, 'newPassword'],
    ['a new password of 257 characters', { next: 'p'.repeat(257) }, 'newPassword'],
    ['a common new password', { next: 'password123' }, 'newPassword'],
    ['a current password of 60 kB', { current: 'p'.repeat(60_000) }, 'currentPassword'],
  ])('answers BAD_USER_INPUT naming the argument for %s', async (_name, input, field) => {
    const { laptop } = await threeDevices();
    const result = await t.gql(
      CHANGE_PASSWORD,
      { current: PASSWORD, next: NEW_PASSWORD, ...input },
      { token: laptop.accessToken },
    );
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors![0]!.extensions!.field).toBe(field);
  });

  it('requires a signed-in caller, and refuses the access token of an ended session', async () => {
    expect(codes(await t.gql(CHANGE_PASSWORD, { current: PASSWORD, next: NEW_PASSWORD }))).toEqual(['UNAUTHENTICATED']);
    const { laptop } = await threeDevices();
    await t.gql('mutation { logout }', {}, { token: laptop.accessToken });
    const ended = await t.gql(CHANGE_PASSWORD, { current: PASSWORD, next: NEW_PASSWORD }, { token: laptop.accessToken });
    expect(codes(ended)).toEqual(['SESSION_REVOKED']);
  });
});

describe.skipIf(backend !== 'postgres')('changePassword with two instances (PostgreSQL only)', () => {
  it('another instance refuses the ended sessions at once, through the revocation bus', async () => {
    await withTestApp({ beside: t, separatePool: true }, async (other) => {
      const { laptop, phone } = await threeDevices();
      expect((await other.gql('{ me { id } }', {}, { token: phone.accessToken })).errors).toBeUndefined();
      await changePassword(laptop.accessToken);
      await eventually(async () => codes(await other.gql('{ me { id } }', {}, { token: phone.accessToken }))[0] === 'SESSION_REVOKED', 1000);
      expect((await other.gql('{ me { id } }', {}, { token: laptop.accessToken })).errors).toBeUndefined();
    });
  });
});

describe.skipIf(backend !== 'postgres')('concurrent password changes and revocations (PostgreSQL only)', () => {
  it('serialise on the user: from six devices on two instances at once, one wins, the others get SESSION_REVOKED, never a deadlock', async () => {
    const other = await createTestApp({ beside: t, separatePool: true });
    // A connection of the test's own that holds the sessions' rows while the requests pile up behind
    // them, so that their transactions all start together instead of as argon2 happens to finish.
    const gate = postgres(t.database.url!, { max: 2, onnotice: () => {} });
    const LOGIN = 'mutation ($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }';
    try {
      for (let round = 0; round < 3; round += 1) {
        const email = uniqueEmail('race');
        const devices = [await signUp(t.gql, { email })];
        for (let i = 0; i < 5; i += 1) devices.push(await login(t.gql, { email }));
        let results: GqlResult[] = [];
        await gate.begin(async (tx) => {
          await tx`select id from sessions where id in ${tx(devices.map((device) => device.session.id))} for update`;
          // Four password changes and two revokeOtherSessions, alternating between the instances.
          const requests = Promise.all(
            devices.map((device, i) => {
              const gql = i % 2 === 0 ? t.gql : other.gql;
              return i < 4
                ? gql(CHANGE_PASSWORD, { current: PASSWORD, next: `${NEW_PASSWORD} ${i}` }, { token: device.accessToken })
                : gql('mutation { revokeOtherSessions }', {}, { token: device.accessToken });
            }),
          );
          await eventually(async () => {
            const [row] = await gate`select count(*)::int as waiting from pg_stat_activity
              where datname = current_database() and wait_event_type = 'Lock'`;
            return row!.waiting >= devices.length;
          });
          void requests.then((done) => (results = done));
        });
        await eventually(() => results.length === devices.length);
        for (const result of results) {
          expect(codes(result).filter((code) => code !== 'SESSION_REVOKED'), JSON.stringify(result.errors)).toEqual([]);
        }
        const changed = results.slice(0, 4).flatMap((result, i) => (result.errors ? [] : [i]));
        // At most one password change went through (each ends the others' sessions first), and its password logs in.
        expect(changed.length).toBeLessThanOrEqual(1);
        const password = changed.length === 1 ? `${NEW_PASSWORD} ${changed[0]}` : PASSWORD;
        expect((await t.gql(LOGIN, { e: email, p: password })).errors).toBeUndefined();
      }
    } finally {
      await gate.end();
      await other.close();
    }
  }, 120_000);
});

describe('changePassword in the audit log', () => {
  it('logs PASSWORD_CHANGED and each ended session; a wrong current password is logged as a failed sign-in', async () => {
    const { laptop, phone } = await threeDevices();
    const refused = await t.gql(CHANGE_PASSWORD, { current: 'not the password at all', next: NEW_PASSWORD }, { token: laptop.accessToken });
    expect(codes(refused)).toEqual(['INVALID_CREDENTIALS']);
    const changed = await changePassword(laptop.accessToken);

    const events = await t.gql('{ myAuthEvents(first: 10) { type sessionId reason } }', {}, { token: changed.accessToken });
    expect(events.errors).toBeUndefined();
    const list = (events.data as { myAuthEvents: { type: string; sessionId: string | null; reason: string | null }[] }).myAuthEvents;
    expect(list).toContainEqual({ type: 'PASSWORD_CHANGED', sessionId: laptop.session.id, reason: null });
    expect(list).toContainEqual({ type: 'SESSION_REVOKED', sessionId: phone.session.id, reason: 'PASSWORD_CHANGED' });
    expect(list).toContainEqual({ type: 'LOGIN_FAILED', sessionId: laptop.session.id, reason: null });
  });
});
