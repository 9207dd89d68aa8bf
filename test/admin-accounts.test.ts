import { describe, expect, it } from 'vitest';
import { signUpAdmin } from './helpers/admin.js';
import { useStartedApp, useTestApp } from './helpers/app.js';
import { LOGIN, PASSWORD, REFRESH, signUp, twoDevices, uniqueEmail } from './helpers/auth-flows.js';
import { backend } from './helpers/database.js';
import { eventually } from './helpers/eventually.js';
import { codes } from './helpers/gql.js';
import { watchRevocations } from './helpers/ws.js';

const DISABLE = 'mutation ($id: ID!, $reason: String) { disableUser(userId: $id, reason: $reason) { id disabled } }';
const ENABLE = 'mutation ($id: ID!) { enableUser(userId: $id) { id disabled } }';
const SET_ROLE = 'mutation ($id: ID!, $role: Role!) { setUserRole(userId: $id, role: $role) { id role } }';
const EVENTS = '{ myAuthEvents(first: 20) { type reason actorId detail } }';

describe('disabling, enabling, revoking and deleting users', () => {
  const test = useStartedApp();

  it('disableUser ends every session live (reason ADMIN) and refuses sign-in with ACCOUNT_DISABLED only after a right password', async () => {
    const admin = await signUpAdmin(test);
    const { email, laptop, phone } = await twoDevices(test.gql);
    const { client, feed } = await watchRevocations(test, laptop.accessToken);

    const disabled = await test.gql(DISABLE, { id: laptop.user.id, reason: 'abuse' }, { token: admin.accessToken });
    expect(disabled.data).toEqual({ disableUser: { id: laptop.user.id, disabled: true } });
    await feed.next(1);
    expect(feed.events[0]).toMatchObject({ reason: 'ADMIN' });
    expect(codes(await test.gql('{ me { id } }', {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);

    const wrong = await test.gql(LOGIN, { email, password: 'not the password at all' });
    expect(codes(wrong)).toEqual(['INVALID_CREDENTIALS']);
    expect(codes(await test.gql(LOGIN, { email, password: PASSWORD }))).toEqual(['ACCOUNT_DISABLED']);
    expect(codes(await test.gql(REFRESH, { refreshToken: phone.refreshToken }))).toEqual(['ACCOUNT_DISABLED']);
    // An unknown email is still only INVALID_CREDENTIALS.
    expect(codes(await test.gql(LOGIN, { email: uniqueEmail(), password: PASSWORD }))).toEqual(['INVALID_CREDENTIALS']);

    const enabled = await test.gql(ENABLE, { id: laptop.user.id }, { token: admin.accessToken });
    expect(enabled.data).toEqual({ enableUser: { id: laptop.user.id, disabled: false } });
    const again = await test.gql<{ login: { accessToken: string } }>(LOGIN, { email, password: PASSWORD });
    expect(again.errors).toBeUndefined();

    const events = (await test.gql(EVENTS, {}, { token: again.data!.login.accessToken })).data!['myAuthEvents'] as Record<string, unknown>[];
    expect(events).toContainEqual({ type: 'USER_DISABLED', reason: null, actorId: admin.user.id, detail: 'abuse' });
    expect(events).toContainEqual({ type: 'USER_ENABLED', reason: null, actorId: admin.user.id, detail: null });
    expect(events).toContainEqual({ type: 'SESSION_REVOKED', reason: 'ADMIN', actorId: admin.user.id, detail: null });
    await client.dispose();
  });

  it('revokeUserSessions ends every session (ADMIN) and says how many; the admin sees them in User.sessions before', async () => {
    const admin = await signUpAdmin(test);
    const { laptop, phone } = await twoDevices(test.gql);
    const before = await test.gql('query ($id: ID!) { user(id: $id) { sessions { id current } } }', { id: laptop.user.id }, { token: admin.accessToken });
    expect((before.data!['user'] as { sessions: unknown[] }).sessions).toHaveLength(2);
    const revoked = await test.gql('mutation ($id: ID!) { revokeUserSessions(userId: $id) }', { id: laptop.user.id }, { token: admin.accessToken });
    expect(revoked.data).toEqual({ revokeUserSessions: 2 });
    expect(codes(await test.gql('{ me { id } }', {}, { token: phone.accessToken }))).toEqual(['SESSION_REVOKED']);
    const log = await test.gql('query ($id: ID!) { user(id: $id) { sessions { id } authEvents(first: 5) { type reason actorId } } }', { id: laptop.user.id }, { token: admin.accessToken });
    const user = log.data!['user'] as { sessions: unknown[]; authEvents: { type: string; actorId: string | null }[] };
    expect(user.sessions).toEqual([]);
    expect(user.authEvents).toContainEqual({ type: 'USER_SESSIONS_REVOKED', reason: null, actorId: admin.user.id });
  });

  it('deleteUser deletes the account as deleteAccount does, ending its sessions with reason ADMIN', async () => {
    const admin = await signUpAdmin(test);
    const target = await signUp(test.gql);
    const deleted = await test.gql('mutation ($id: ID!) { deleteUser(userId: $id) }', { id: target.user.id }, { token: admin.accessToken });
    expect(deleted.data).toEqual({ deleteUser: true });
    expect(codes(await test.gql('{ me { id } }', {}, { token: target.accessToken }))).toEqual(['SESSION_REVOKED']);
    expect((await test.gql('query ($id: ID!) { user(id: $id) { id } }', { id: target.user.id }, { token: admin.accessToken })).data).toEqual({ user: null });
    const again = await test.gql('mutation ($id: ID!) { deleteUser(userId: $id) }', { id: target.user.id }, { token: admin.accessToken });
    expect(codes(again)).toEqual(['NOT_FOUND']);
  });

  it('an unknown or malformed user id is NOT_FOUND for mutations and null for user(id)', async () => {
    const admin = await signUpAdmin(test);
    for (const id of [crypto.randomUUID(), 'not-a-uuid']) {
      expect(codes(await test.gql(DISABLE, { id }, { token: admin.accessToken }))).toEqual(['NOT_FOUND']);
      expect(codes(await test.gql(SET_ROLE, { id, role: 'ADMIN' }, { token: admin.accessToken }))).toEqual(['NOT_FOUND']);
      expect((await test.gql('query ($id: ID!) { user(id: $id) { id } }', { id }, { token: admin.accessToken })).data).toEqual({ user: null });
    }
  });
});

describe('the last admin', () => {
  const test = useTestApp();

  it('cannot be demoted, disabled or deleted; once another admin exists, it can be demoted', async () => {
    const only = await signUpAdmin(test);
    for (const [query, variables] of [
      [SET_ROLE, { id: only.user.id, role: 'USER' }],
      [DISABLE, { id: only.user.id }],
      ['mutation ($id: ID!) { deleteUser(userId: $id) }', { id: only.user.id }],
    ] as const) {
      const refused = await test.gql(query, variables, { token: only.accessToken });
      expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
      expect(refused.errors![0]!.message).toMatch(/last admin/);
    }
    const other = await signUp(test.gql);
    expect((await test.gql(SET_ROLE, { id: other.user.id, role: 'ADMIN' }, { token: only.accessToken })).data).toEqual({
      setUserRole: { id: other.user.id, role: 'ADMIN' },
    });
    expect((await test.gql(SET_ROLE, { id: only.user.id, role: 'USER' }, { token: only.accessToken })).data).toEqual({
      setUserRole: { id: only.user.id, role: 'USER' },
    });
    // The one left is now the last admin in turn.
    const other2 = await test.gql(LOGIN, { email: other.user.email, password: PASSWORD });
    const token = (other2.data!['login'] as { accessToken: string }).accessToken;
    expect(codes(await test.gql(SET_ROLE, { id: other.user.id, role: 'USER' }, { token }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('users: a cursor connection', () => {
  const test = useTestApp();
  const PAGE = `query ($query: String, $first: Int, $after: String) {
    users(query: $query, first: $first, after: $after) { edges { cursor node { id email } } pageInfo { hasNextPage endCursor } } }`;

  it('pages through the matching users in a stable order, each once, case-insensitively', async () => {
    const admin = await signUpAdmin(test);
    const tag = `pg${crypto.randomUUID().slice(0, 6)}`;
    // The fake clock stands still: every one of them has the same created_at, so the id breaks the tie.
    const emails = await Promise.all([1, 2, 3, 4, 5].map(async () => (await signUp(test.gql, { email: uniqueEmail(tag) })).user.email));
    const seen: string[] = [];
    let after: string | null = null;
    const pages: number[] = [];
    for (;;) {
      const result = await test.gql(PAGE, { query: tag.toUpperCase(), first: 2, after }, { token: admin.accessToken });
      expect(result.errors).toBeUndefined();
      const page = result.data!['users'] as { edges: { cursor: string; node: { email: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
      pages.push(page.edges.length);
      seen.push(...page.edges.map((edge) => edge.node.email));
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(pages).toEqual([2, 2, 1]);
    expect([...seen].sort()).toEqual([...emails].sort());
    // The same order again.
    const all = await test.gql(PAGE, { query: tag, first: 10 }, { token: admin.accessToken });
    expect((all.data!['users'] as { edges: { node: { email: string } }[] }).edges.map((edge) => edge.node.email)).toEqual(seen);
  });

  it('refuses first outside 1..100 and a cursor that is not one, with BAD_USER_INPUT', async () => {
    const admin = await signUpAdmin(test);
    for (const variables of [{ first: 0 }, { first: 101 }, { first: 5, after: 'bm90IGEgY3Vyc29y' }]) {
      expect(codes(await test.gql(PAGE, variables, { token: admin.accessToken }))).toEqual(['BAD_USER_INPUT']);
    }
  });
});

describe.skipIf(backend !== 'postgres')('disableUser on two instances (PostgreSQL only)', () => {
  const a = useTestApp();
  const b = useStartedApp({ beside: a, separatePool: true });

  it('a disable on A ends the sessions at once on B too: its subscriber hears ADMIN and its token is refused', async () => {
    const admin = await signUpAdmin(a);
    const { laptop, phone } = await twoDevices(a.gql);
    expect((await b.gql('{ me { id } }', {}, { token: phone.accessToken })).errors).toBeUndefined();
    const { client, feed } = await watchRevocations(b, laptop.accessToken);
    expect((await a.gql(DISABLE, { id: laptop.user.id }, { token: admin.accessToken })).errors).toBeUndefined();
    await feed.next(1);
    expect(feed.events[0]).toMatchObject({ reason: 'ADMIN' });
    await eventually(async () => codes(await b.gql('{ me { id } }', {}, { token: phone.accessToken }))[0] === 'SESSION_REVOKED');
    expect(codes(await b.gql(LOGIN, { email: laptop.user.email, password: PASSWORD }))).toEqual(['ACCOUNT_DISABLED']);
    await client.dispose();
  });
});
