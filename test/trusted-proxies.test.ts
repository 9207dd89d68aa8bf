import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { useStartedApp, useTestApp } from './helpers/app.js';
import { PASSWORD, SIGN_UP, uniqueEmail, type Payload } from './helpers/auth-flows.js';
import { createGql, type Gql } from './helpers/gql.js';

/** TRUST_PROXY as a number of proxies or their addresses: which X-Forwarded-For entry is the client. */

const twoHops = useTestApp({ env: { TRUST_PROXY: '2' } });
const privateRanges = useTestApp({ env: { TRUST_PROXY: '10.0.0.0/8, 192.168.0.0/16' }, beside: twoHops });
const loopbackAndPrivate = useStartedApp({ env: { TRUST_PROXY: 'loopback, 10.0.0.0/8' }, beside: twoHops });

async function addressSeen(gql: Gql, forwardedFor: string): Promise<string | null> {
  const result = await gql<{ signUp: Payload }>(
    SIGN_UP,
    { email: uniqueEmail(), password: PASSWORD },
    { headers: { 'x-forwarded-for': forwardedFor } },
  );
  expect(result.errors).toBeUndefined();
  return result.data!.signUp.session.ip;
}

describe('TRUST_PROXY as a number of proxies', () => {
  it('takes the entry the outermost of them appended, behind a CDN and a load balancer', async () => {
    // The client claimed 198.51.100.1; the CDN appended the client's real address, the balancer the CDN's.
    expect(await addressSeen(twoHops.gql, '198.51.100.1, 203.0.113.9, 192.0.2.1')).toBe('203.0.113.9');
  });

  it('takes the furthest entry when there are fewer than that many', async () => {
    expect(await addressSeen(twoHops.gql, '203.0.113.10')).toBe('203.0.113.10');
  });
});

describe('TRUST_PROXY as proxy addresses', () => {
  it('walks back through X-Forwarded-For past the trusted proxies, on a real socket from a trusted address', async () => {
    const gql = createGql(fetch, loopbackAndPrivate.url);
    expect(await addressSeen(gql, '198.51.100.1, 203.0.113.9, 10.1.2.3, 10.0.0.1')).toBe('203.0.113.9');
  });

  it('takes the furthest proxy when every entry is a trusted one', async () => {
    const gql = createGql(fetch, loopbackAndPrivate.url);
    expect(await addressSeen(gql, '10.9.9.9, 10.0.0.1')).toBe('10.9.9.9');
  });

  it('believes no entry when the peer itself is not a trusted proxy', async () => {
    // In process there is no socket, so no peer address falls in the ranges: X-Forwarded-For is ignored.
    expect(await addressSeen(privateRanges.gql, '203.0.113.9, 10.1.2.3')).toBeNull();
  });
});

describe('TRUST_PROXY values', () => {
  it.each([
    ['false', { kind: 'none' }],
    ['true', { kind: 'hops', count: 1 }],
    ['3', { kind: 'hops', count: 3 }],
    ['10.0.0.0/8, 2001:db8::/32, 192.0.2.7', { kind: 'ranges', ranges: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7/32'] }],
    ['loopback', { kind: 'ranges', ranges: ['127.0.0.0/8', '::1/128'] }],
  ])('reads %s', (value, trust) => {
    expect(loadConfig({ TRUST_PROXY: value }).trustProxy).toEqual(trust);
  });

  it.each(['maybe', '10.0.0.0/33', '10.0.0.0/8, example.com', '-1'])('refuses %s in one line', (value) => {
    expect(() => loadConfig({ TRUST_PROXY: value })).toThrow(/^Invalid configuration:\n {2}TRUST_PROXY: must be false, true[^\n]+$/);
  });
});
