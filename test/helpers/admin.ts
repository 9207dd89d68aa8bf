import { grantAdminByEmail } from '../../src/auth/admin/roles.js';
import type { TestApp } from './app.js';
import { login, signUp, uniqueEmail, type Payload } from './auth-flows.js';

/**
 * A signed-in admin: signed up, granted ADMIN as `tidepass grant-admin` does, then logged in again so
 * that its token's role claim says ADMIN too (the admin scope reads the database either way).
 */
export async function signUpAdmin(test: TestApp): Promise<Payload> {
  const email = uniqueEmail('admin');
  await signUp(test.gql, { email });
  await grantAdminByEmail(test.app.database.db, test.clock, email);
  return login(test.gql, { email });
}

/** The claims of a JWT, unverified: for asserting what a token says. */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}
