import { hash } from '@node-rs/argon2';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { useTestApp } from './helpers/app.js';
import { AUTH_FIELDS, LOGIN, PASSWORD, REFRESH, signUp, uniqueEmail, type Payload } from './helpers/auth-flows.js';
import { codes, type GqlResult } from './helpers/gql.js';
import { gateStatement } from './helpers/statement-gate.js';

/** A login that checked the old password while a password change committed must not outlive the change. */

const CHANGE_PASSWORD = `mutation ($current: String!, $next: String!) {
  changePassword(currentPassword: $current, newPassword: $next) { ${AUTH_FIELDS} } }`;
const NEW_PASSWORD = 'a brand new passphrase';

// Eight concurrent checks of one account's password: each holds a point of its budget until judged.
const t = useTestApp({ env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: '100' } });

async function changePassword(token: string): Promise<void> {
  const result = await t.gql(CHANGE_PASSWORD, { current: PASSWORD, next: NEW_PASSWORD }, { token });
  expect(result.errors).toBeUndefined();
}

/** Whether a login's session still works: its access token and its refresh token. */
async function sessionAnswers(login: GqlResult): Promise<Record<'me' | 'refresh', (string | undefined)[]>> {
  const payload = login.data!['login'] as Payload;
  return {
    me: codes(await t.gql('{ me { id } }', {}, { token: payload.accessToken })),
    refresh: codes(await t.gql(REFRESH, { refreshToken: payload.refreshToken })),
  };
}

describe('a login racing a password change', () => {
  it('that checked the old password before the change committed, and creates its session after, is INVALID_CREDENTIALS', async () => {
    const email = uniqueEmail();
    const laptop = await signUp(t.gql, { email });
    const gate = gateStatement(t.database.handle, /create_session_within_limit/);
    const racing = t.gql(LOGIN, { email, password: PASSWORD });
    try {
      await gate.reached;
      await changePassword(laptop.accessToken);
    } finally {
      gate.release();
    }
    expect(codes(await racing)).toEqual(['INVALID_CREDENTIALS']);
    expect(codes(await t.gql(LOGIN, { email, password: NEW_PASSWORD }))).toEqual([]);
  });

  it('with an old-parameter hash, does not write the old password back over the new one', async () => {
    const email = uniqueEmail();
    const laptop = await signUp(t.gql, { email });
    // Weaker than today's parameters: the next login hashes the password again.
    const weak = await hash(PASSWORD, { algorithm: 2, memoryCost: 8_192, timeCost: 1, parallelism: 1 });
    await t.app.database.db.execute(sql`update users set password_hash = ${weak} where id = ${laptop.user.id}`);
    const gate = gateStatement(t.database.handle, /^update "users" set "password_hash"/);
    const racing = t.gql(LOGIN, { email, password: PASSWORD });
    try {
      await gate.reached;
      await changePassword(laptop.accessToken);
    } finally {
      gate.release();
    }
    expect(codes(await racing)).toEqual(['INVALID_CREDENTIALS']);
    expect(codes(await t.gql(LOGIN, { email, password: NEW_PASSWORD }))).toEqual([]);
    expect(codes(await t.gql(LOGIN, { email, password: PASSWORD }))).toEqual(['INVALID_CREDENTIALS']);
  });

  it('leaves no session that outlives the change, whatever the timing (8 logins 4 ms apart)', async () => {
    const email = uniqueEmail();
    const laptop = await signUp(t.gql, { email });
    const change = changePassword(laptop.accessToken);
    const logins: Promise<GqlResult>[] = [];
    for (let i = 0; i < 8; i++) {
      logins.push(t.gql(LOGIN, { email, password: PASSWORD }));
      await new Promise((resolve) => setTimeout(resolve, 4));
    }
    await change;
    for (const login of await Promise.all(logins)) {
      if (login.errors) {
        expect(codes(login)).toEqual(['INVALID_CREDENTIALS']);
        continue;
      }
      expect(await sessionAnswers(login)).toEqual({ me: ['SESSION_REVOKED'], refresh: ['INVALID_REFRESH_TOKEN'] });
    }
  });
});
