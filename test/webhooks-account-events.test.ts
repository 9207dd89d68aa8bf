import { describe, expect, it } from 'vitest';
import { grantAdminByEmail } from '../src/auth/admin/roles.js';
import { useTestApp, type TestApp } from './helpers/app.js';
import { PASSWORD, signUp } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';
import { signUpWithTotp } from './helpers/totp.js';

/** user.deleted and mfa.changed, read from the outbox through webhookDeliveries (the sender never runs here). */

const WEBHOOKS = { pollMs: 2 ** 31 - 1, timeoutMs: 15_000 };
const t = useTestApp({ env: { WEBHOOK_ALLOW_PRIVATE: 'true' }, webhooks: WEBHOOKS });

async function adminWithEndpoint(app: TestApp, events: string[]) {
  const { user, accessToken } = await signUp(app.gql);
  expect(await grantAdminByEmail(app.app.database.db, app.clock, user.email)).toBe('granted');
  const created = await app.gql(
    'mutation ($url: String!, $events: [String!]!) { createWebhookEndpoint(url: $url, events: $events) { id } }',
    { url: 'http://127.0.0.1:9/hooks', events },
    { token: accessToken },
  );
  expect(codes(created)).toEqual([]);
  const endpointId = (created.data!.createWebhookEndpoint as { id: string }).id;
  /** The queued events of this endpoint about one user, oldest first. */
  const eventsAbout = async (userId: string) => {
    const result = await app.gql(
      'query ($id: ID!) { webhookDeliveries(endpointId: $id, first: 100) { type payload } }',
      { id: endpointId },
      { token: accessToken },
    );
    expect(codes(result)).toEqual([]);
    return (result.data!.webhookDeliveries as { type: string; payload: string }[])
      .map((d) => JSON.parse(d.payload) as { type: string; data: Record<string, unknown> })
      .filter((event) => event.data.userId === userId)
      .reverse();
  };
  return { adminToken: accessToken, eventsAbout };
}

describe('webhooks of account changes', () => {
  it('queues user.deleted when a user deletes the account (USER) and when an admin does (ADMIN)', async () => {
    const { adminToken, eventsAbout } = await adminWithEndpoint(t, ['user.deleted']);
    const self = await signUp(t.gql);
    const deleted = await t.gql('mutation ($p: String!) { deleteAccount(currentPassword: $p) }', { p: PASSWORD }, { token: self.accessToken });
    expect(deleted.data).toEqual({ deleteAccount: true });
    expect(await eventsAbout(self.user.id)).toEqual([{ type: 'user.deleted', timestamp: expect.any(String), data: { userId: self.user.id, deletedBy: 'USER' } }]);

    const other = await signUp(t.gql);
    const byAdmin = await t.gql('mutation ($id: ID!) { deleteUser(userId: $id) }', { id: other.user.id }, { token: adminToken });
    expect(byAdmin.data).toEqual({ deleteUser: true });
    expect((await eventsAbout(other.user.id)).map((event) => event.data)).toEqual([{ userId: other.user.id, deletedBy: 'ADMIN' }]);
  });

  it('queues mfa.changed when TOTP is turned on, and nothing for a refused code', async () => {
    const { eventsAbout } = await adminWithEndpoint(t, ['mfa.changed']);
    const refused = await signUp(t.gql);
    await t.gql('mutation { startTotpEnrollment { secret } }', {}, { token: refused.accessToken });
    const wrong = await t.gql('mutation { confirmTotpEnrollment(code: "000000") }', {}, { token: refused.accessToken });
    expect(codes(wrong)).toEqual(['INVALID_MFA_CODE']);
    expect(await eventsAbout(refused.user.id)).toEqual([]);

    const totp = await signUpWithTotp(t.gql, t.clock);
    const events = await eventsAbout(totp.signedIn.user.id);
    expect(events.map((event) => event.data)).toEqual([{ userId: totp.signedIn.user.id, change: 'TOTP_ENABLED' }]);
  });
});
