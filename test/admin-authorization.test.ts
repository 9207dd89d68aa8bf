import { describe, expect, it } from 'vitest';
import { claimsOf, signUpAdmin } from './helpers/admin.js';
import { useTestApp } from './helpers/app.js';
import { login, signUp, type Payload } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

/** Every admin field, each with the variables it needs against a fresh target user. */
const adminOperations: { name: string; query: string; variables: (target: Payload) => Record<string, unknown> }[] = [
  { name: 'users', query: '{ users { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }', variables: () => ({}) },
  { name: 'user', query: 'query ($id: ID!) { user(id: $id) { id email role disabled } }', variables: (t) => ({ id: t.user.id }) },
  { name: 'User.sessions', query: 'query ($id: ID!) { user(id: $id) { sessions { id } } }', variables: (t) => ({ id: t.user.id }) },
  { name: 'User.authEvents', query: 'query ($id: ID!) { user(id: $id) { authEvents(first: 5) { type } } }', variables: (t) => ({ id: t.user.id }) },
  { name: 'disableUser', query: 'mutation ($id: ID!) { disableUser(userId: $id, reason: "test") { id } }', variables: (t) => ({ id: t.user.id }) },
  { name: 'enableUser', query: 'mutation ($id: ID!) { enableUser(userId: $id) { id } }', variables: (t) => ({ id: t.user.id }) },
  { name: 'revokeUserSessions', query: 'mutation ($id: ID!) { revokeUserSessions(userId: $id) }', variables: (t) => ({ id: t.user.id }) },
  { name: 'setUserRole', query: 'mutation ($id: ID!) { setUserRole(userId: $id, role: USER) { id } }', variables: (t) => ({ id: t.user.id }) },
];

describe('admin fields', () => {
  const test = useTestApp();

  for (const operation of adminOperations) {
    it(`${operation.name}: anonymous is UNAUTHENTICATED, a user FORBIDDEN, an admin succeeds`, async () => {
      const admin = await signUpAdmin(test);
      const user = await signUp(test.gql);
      const target = await signUp(test.gql);
      const variables = operation.variables(target);

      const anonymous = await test.gql(operation.query, variables);
      expect(codes(anonymous)).toEqual(['UNAUTHENTICATED']);
      const asUser = await test.gql(operation.query, variables, { token: user.accessToken });
      expect(codes(asUser)).toEqual(['FORBIDDEN']);
      const asAdmin = await test.gql(operation.query, variables, { token: admin.accessToken });
      expect(asAdmin.errors).toBeUndefined();
    });
  }

  it("a user's own User.sessions and User.authEvents (through me) are FORBIDDEN too: admins only", async () => {
    const user = await signUp(test.gql);
    const result = await test.gql('{ me { id sessions { id } } }', {}, { token: user.accessToken });
    expect(codes(result)).toEqual(['FORBIDDEN']);
    const events = await test.gql('{ me { authEvents { type } } }', {}, { token: user.accessToken });
    expect(codes(events)).toEqual(['FORBIDDEN']);
    // The fields anyone may read of their own account stay readable.
    const own = await test.gql('{ me { role disabled } }', {}, { token: user.accessToken });
    expect(own.data).toEqual({ me: { role: 'USER', disabled: false } });
  });

  it('a refused token gets its own code on an admin field, not FORBIDDEN', async () => {
    const result = await test.gql('{ users { edges { cursor } } }', {}, { token: 'not-a-jwt' });
    expect(codes(result)).toEqual(['INVALID_TOKEN']);
  });

  it("access tokens carry the user's role as a claim", async () => {
    const user = await signUp(test.gql);
    expect(claimsOf(user.accessToken)['role']).toBe('USER');
    const admin = await signUpAdmin(test);
    expect(claimsOf(admin.accessToken)['role']).toBe('ADMIN');
  });

  it('a demoted admin loses the admin API with the very next request, its token unchanged', async () => {
    const first = await signUpAdmin(test);
    const second = await signUpAdmin(test);
    const demote = await test.gql(
      'mutation ($id: ID!) { setUserRole(userId: $id, role: USER) { id role } }',
      { id: second.user.id },
      { token: first.accessToken },
    );
    expect(demote.data).toEqual({ setUserRole: { id: second.user.id, role: 'USER' } });
    // The token still says ADMIN; the scope reads the database.
    expect(claimsOf(second.accessToken)['role']).toBe('ADMIN');
    expect(codes(await test.gql('{ users { edges { cursor } } }', {}, { token: second.accessToken }))).toEqual(['FORBIDDEN']);
    // And its next token says USER.
    expect(claimsOf((await login(test.gql, { email: second.user.email })).accessToken)['role']).toBe('USER');
  });
});
