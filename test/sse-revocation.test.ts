import { describe, expect, it } from 'vitest';
import { useStartedApp, withTestApp, type TestApp } from './helpers/app.js';
import { signUp, twoDevices, uniqueEmail } from './helpers/auth-flows.js';
import { eventually } from './helpers/eventually.js';

// Started like the server: the streams run beside its sockets and timers.
const t = useStartedApp();

describe('sessionRevoked over SSE', () => {
  it('answers UNAUTHENTICATED and no stream without a token', async () => {
    const response = await t.app.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { sessionRevoked { sessionId } }' }),
    });
    const text = await response.text();
    expect(text).toContain('"code":"UNAUTHENTICATED"');
    expect(text).not.toContain('"sessionRevoked":{');
  });

  it('streams the event to a subscriber authenticated by the Authorization header', async () => {
    const { laptop, phone } = await twoDevices(t.gql);
    const controller = new AbortController();
    const before = t.app.revocationFeed.subscriberCount;
    const response = await t.app.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${laptop.accessToken}` },
      body: JSON.stringify({ query: 'subscription { sessionRevoked { sessionId reason current } }' }),
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    // The stream starts its subscription when it is read.
    const reader = response.body!.getReader();
    const received = (async () => {
      let text = '';
      while (!text.includes('sessionRevoked')) text += new TextDecoder().decode((await reader.read()).value);
      return text;
    })();
    await eventually(() => t.app.revocationFeed.subscriberCount > before);
    await t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, { token: laptop.accessToken });
    expect(await received).toContain(`{"sessionId":"${phone.session.id}","reason":"REVOKED_BY_USER","current":false}`);
    controller.abort();
  });
});

/** Opens an SSE sessionRevoked stream and reads it to its end. */
async function openSse(app: TestApp, token: string) {
  const response = await app.app.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: 'subscription { sessionRevoked { sessionId reason current } }' }),
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const whole = (async () => {
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += decoder.decode(value);
    }
  })();
  return { whole, cancel: () => reader.cancel() };
}

describe('streams do not outlive their session', () => {
  it("ends an SSE stream right after announcing the subscriber's own session ended", async () => {
    const { laptop, phone } = await twoDevices(t.gql);
    const before = t.app.revocationFeed.subscriberCount;
    const stream = await openSse(t, phone.accessToken);
    await eventually(() => t.app.revocationFeed.subscriberCount > before);
    await t.gql('mutation ($id: ID!) { revokeDevice(sessionId: $id) }', { id: phone.session.id }, { token: laptop.accessToken });
    const text = await stream.whole;
    expect(text).toContain(`{"sessionId":"${phone.session.id}","reason":"REVOKED_BY_USER","current":true}`);
    expect(text).toContain('event: complete');
    expect(t.app.revocationFeed.subscriberCount).toBe(before);
  });

  it('ends an SSE stream when its access token expires', async () => {
    await withTestApp({ env: { ACCESS_TOKEN_TTL: '1' } }, async (short) => {
      const tokens = await signUp(short.gql, { email: uniqueEmail() });
      const stream = await openSse(short, tokens.accessToken);
      const text = await stream.whole;
      expect(text).toContain('event: complete');
      expect(text).not.toContain('sessionRevoked');
      expect(short.app.revocationFeed.subscriberCount).toBe(0);
    });
  });
});
