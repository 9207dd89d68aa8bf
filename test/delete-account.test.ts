import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { grantAdminByEmail } from '../src/auth/admin/roles.js';
import { authEvents, mailOutbox } from '../src/db/schema.js';
import { useStartedApp } from './helpers/app.js';
import { LOGIN, PASSWORD, REFRESH, signUp, twoDevices, uniqueEmail } from './helpers/auth-flows.js';
import { eventually } from './helpers/eventually.js';
import { FEED_KEY, openFeed, readSse } from './helpers/feed.js';
import { codes } from './helpers/gql.js';
import { watchRevocations } from './helpers/ws.js';

const DELETE_ACCOUNT = 'mutation ($password: String!) { deleteAccount(currentPassword: $password) }';
const ME = 'query { me { id email } }';
const EVENTS = 'query { myAuthEvents(first: 50) { type sessionId reason } }';

// No SMTP_URL: mails stay in the outbox (the development mailbox), where a pending one can be seen dropped.
const t = useStartedApp({ env: { REVOCATION_FEED_KEYS: FEED_KEY } });

describe('deleteAccount', () => {
  it('ends every session live with ACCOUNT_DELETED: subscriptions and the revocation feed hear it', async () => {
    const { laptop, phone } = await twoDevices(t.gql);
    const feed = readSse(await openFeed(t.url));
    const onLaptop = await watchRevocations(t, laptop.accessToken);
    const onPhone = await watchRevocations(t, phone.accessToken);

    const deleted = await t.gql(DELETE_ACCOUNT, { password: PASSWORD }, { token: laptop.accessToken });
    expect(deleted.data).toEqual({ deleteAccount: true });
    // Each subscriber hears of the user's sessions that end, until its own does (its socket closes then).
    for (const [watcher, own] of [[onLaptop, laptop], [onPhone, phone]] as const) {
      await eventually(() => watcher.feed.events.some((event) => event.current));
      expect(watcher.feed.events).toContainEqual(expect.objectContaining({ sessionId: own.session.id, reason: 'ACCOUNT_DELETED', current: true }));
      expect(watcher.feed.events.every((event) => event.reason === 'ACCOUNT_DELETED')).toBe(true);
    }
    await eventually(() => feed.revoked().length >= 2);
    expect(feed.revoked().map((event) => [event.sessionId, event.reason]).sort()).toEqual(
      [[laptop.session.id, 'ACCOUNT_DELETED'], [phone.session.id, 'ACCOUNT_DELETED']].sort(),
    );
    expect(codes(await t.gql(ME, {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);
    await Promise.all([onLaptop.client.dispose(), onPhone.client.dispose(), feed.cancel()]);
  });

  it('refuses refresh and login afterwards, and frees the address for a new account', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    expect((await t.gql(DELETE_ACCOUNT, { password: PASSWORD }, { token: user.accessToken })).data).toEqual({ deleteAccount: true });
    expect(codes(await t.gql(REFRESH, { refreshToken: user.refreshToken }))).toEqual(['INVALID_REFRESH_TOKEN']);
    expect(codes(await t.gql(LOGIN, { email, password: PASSWORD }))).toEqual(['INVALID_CREDENTIALS']);
    const again = await signUp(t.gql, { email });
    expect(again.user.email).toBe(email);
    expect(again.user.id).not.toBe(user.user.id);
    expect((await t.gql(EVENTS, {}, { token: again.accessToken })).data!.myAuthEvents).toEqual([
      { type: 'SIGNED_UP', sessionId: again.session.id, reason: null },
    ]);
  });

  it('keeps the audit log, by user id, with the deletion in it; nothing of the address', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    await t.gql(DELETE_ACCOUNT, { password: PASSWORD }, { token: user.accessToken });
    const rows = await t.app.database.db.select().from(authEvents).where(eq(authEvents.userId, user.user.id));
    expect(rows.map((row) => [row.type, row.reason])).toEqual([
      ['SIGNED_UP', null],
      ['SESSION_REVOKED', 'ACCOUNT_DELETED'],
      ['ACCOUNT_DELETED', 'ACCOUNT_DELETED'],
    ]);
    expect(rows.at(-1)!.sessionId).toBe(user.session.id);
    expect(JSON.stringify(rows)).not.toContain(email);
  });

  it('drops the mail not yet sent to the address', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    expect(codes(await t.gql('mutation { requestEmailVerification }', {}, { token: user.accessToken }))).toEqual([]);
    const queued = () => t.app.database.db.select().from(mailOutbox).where(eq(mailOutbox.recipient, email));
    expect(await queued()).toHaveLength(1);
    await t.gql(DELETE_ACCOUNT, { password: PASSWORD }, { token: user.accessToken });
    expect(await queued()).toEqual([]);
  });

  it('answers INVALID_CREDENTIALS for a wrong password, deletes nothing, and counts it against the login throttle', async () => {
    const email = uniqueEmail();
    const user = await signUp(t.gql, { email });
    for (let i = 0; i < 5; i += 1) {
      expect(codes(await t.gql(DELETE_ACCOUNT, { password: 'not the password' }, { token: user.accessToken }))).toEqual([
        'INVALID_CREDENTIALS',
      ]);
    }
    expect(codes(await t.gql(DELETE_ACCOUNT, { password: 'not the password' }, { token: user.accessToken }))).toEqual([
      'RATE_LIMITED',
    ]);
    expect(codes(await t.gql(LOGIN, { email, password: PASSWORD }))).toEqual(['RATE_LIMITED']);
    expect((await t.gql(ME, {}, { token: user.accessToken })).data).toEqual({ me: { id: user.user.id, email } });
    const events = (await t.gql(EVENTS, {}, { token: user.accessToken })).data!.myAuthEvents as { type: string }[];
    expect(events.filter((event) => event.type === 'LOGIN_FAILED')).toHaveLength(5);
  });

  it('refuses the last admin (BAD_USER_INPUT, nothing deleted) until another admin exists', async () => {
    const first = await signUp(t.gql);
    expect(await grantAdminByEmail(t.app.database.db, t.clock, first.user.email)).toBe('granted');
    expect(codes(await t.gql(DELETE_ACCOUNT, { password: PASSWORD }, { token: first.accessToken }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await t.gql(ME, {}, { token: first.accessToken }))).toEqual([]);

    const second = await signUp(t.gql);
    expect(await grantAdminByEmail(t.app.database.db, t.clock, second.user.email)).toBe('granted');
    expect((await t.gql(DELETE_ACCOUNT, { password: PASSWORD }, { token: first.accessToken })).data).toEqual({ deleteAccount: true });
  });

  it('needs a signed-in caller', async () => {
    expect(codes(await t.gql(DELETE_ACCOUNT, { password: PASSWORD }))).toEqual(['UNAUTHENTICATED']);
  });
});
