import { describe, expect, it } from 'vitest';
import { createTestApp, withTestApp } from './helpers/app.js';
import { login, refresh, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { eventually } from './helpers/eventually.js';
import { collectRevocations, connected, SESSION_REVOKED_SUBSCRIPTION, wsClient } from './helpers/ws.js';

describe('token expiry on a live socket', () => {
  it('closes 4403 "Token expired" at expiry, and a client that refreshes in connectionParams reconnects and keeps receiving', async () => {
    const short = await createTestApp({ env: { ACCESS_TOKEN_TTL: '1' } });
    // Successors come from an instance with the usual lifetime on the same database and key, so that
    // only the first token expires during the test, however slow the machine.
    const usual = await createTestApp({ beside: short });
    try {
      const shortUrl = (await short.app.start()).url;
      const email = uniqueEmail();
      let tokens = await signUp(short.gql, { email });
      const other = await login(short.gql, { email });
      let connections = 0;
      const client = wsClient(shortUrl, {
        retryAttempts: 5,
        retryWait: async () => {},
        shouldRetry: () => true,
        connectionParams: async () => {
          connections += 1;
          if (connections > 1) tokens = await refresh(usual.gql, tokens.refreshToken);
          return { authorization: `Bearer ${tokens.accessToken}` };
        },
      });
      const feed = collectRevocations(client);
      await connected(client);
      const closed = await client.closed;
      expect(closed).toEqual({ code: 4403, reason: 'Token expired' });
      // Subscribed again on the new socket (not only connected), or the revocation below could come first.
      await eventually(() => connections >= 2 && short.app.socketCount === 1 && short.app.revocationFeed.subscriberCount === 1);
      await short.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: other.session.id }, { token: tokens.accessToken });
      await feed.next(1);
      expect(feed.events[0]).toMatchObject({ sessionId: other.session.id, reason: 'REVOKED_BY_USER' });
      await client.dispose();
    } finally {
      await usual.close();
      await short.close();
    }
  });
});

describe('token expiry on a live socket, its subscriptions', () => {
  it('are not completed before the socket closes 4403, so that a client subscribes again once it reconnects', async () => {
    await withTestApp({ env: { ACCESS_TOKEN_TTL: '1' } }, async (short) => {
      const shortUrl = (await short.app.start()).url;
      const tokens = await signUp(short.gql, { email: uniqueEmail() });
      const client = wsClient(shortUrl, { token: tokens.accessToken });
      // Several, so that any ordering of the expiries would show: each must end by the close, not by a complete.
      const outcomes = Array.from(
        { length: 4 },
        () =>
          new Promise<string>((resolve) => {
            client.subscribe(
              { query: SESSION_REVOKED_SUBSCRIPTION },
              { next: () => {}, error: () => resolve('closed'), complete: () => resolve('completed') },
            );
          }),
      );
      await connected(client);
      expect(await client.closed).toEqual({ code: 4403, reason: 'Token expired' });
      expect(await Promise.all(outcomes)).toEqual(['closed', 'closed', 'closed', 'closed']);
      await eventually(() => short.app.socketCount === 0 && short.app.revocationFeed.subscriberCount === 0);
      await client.dispose();
    });
  });
});
