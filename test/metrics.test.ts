import { describe, expect, it } from 'vitest';
import { useStartedApp, withTestApp } from './helpers/app.js';
import { login, LOGIN, REFRESH, refresh, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

const TOKEN = 'metrics-token-for-tests-0123456789abcdef';

/** The samples of a Prometheus text exposition, by `name{labels}` as printed. */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const split = line.lastIndexOf(' ');
    found.set(line.slice(0, split), Number(line.slice(split + 1)));
  }
  return found;
}

async function scrape(url: string, token: string | undefined = TOKEN): Promise<Map<string, number>> {
  const response = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return samples(await response.text());
}

/** What each sample grew by between two scrapes (only those that changed). */
function increments(before: Map<string, number>, after: Map<string, number>, prefix: string): Record<string, number> {
  const grown: Record<string, number> = {};
  for (const [name, value] of after) {
    if (!name.startsWith(prefix)) continue;
    const delta = value - (before.get(name) ?? 0);
    if (delta !== 0) grown[name] = delta;
  }
  return grown;
}

describe('GET /metrics with METRICS_TOKEN', () => {
  const t = useStartedApp({ env: { METRICS_TOKEN: TOKEN } });

  it('counts a known sequence exactly: sign-up, logins, refreshes (grace and reuse), logout', async () => {
    const before = await scrape(t.url);
    const email = uniqueEmail();
    const first = await signUp(t.gql, { email });
    const second = await login(t.gql, { email });
    expect(codes(await t.gql(LOGIN, { email, password: 'not the password at all' }))).toEqual(['INVALID_CREDENTIALS']);
    const rotated = await refresh(t.gql, first.refreshToken);
    // The same spent token again inside the grace window, its successor unused: a lost response answered again.
    expect((await refresh(t.gql, first.refreshToken)).refreshToken).toBe(rotated.refreshToken);
    t.clock.advance(60);
    expect(codes(await t.gql(REFRESH, { refreshToken: first.refreshToken }))).toEqual(['REFRESH_TOKEN_REUSED']);
    expect(codes(await t.gql('mutation { logout }', {}, { token: second.accessToken }))).toEqual([]);
    const after = await scrape(t.url);

    expect(increments(before, after, 'tidepass_logins_total')).toEqual({
      'tidepass_logins_total{outcome="success"}': 1,
      'tidepass_logins_total{outcome="invalid_credentials"}': 1,
    });
    expect(increments(before, after, 'tidepass_sign_ups_total')).toEqual({ 'tidepass_sign_ups_total{outcome="success"}': 1 });
    expect(increments(before, after, 'tidepass_refreshes_total')).toEqual({
      'tidepass_refreshes_total{outcome="success"}': 1,
      'tidepass_refreshes_total{outcome="grace"}': 1,
      'tidepass_refreshes_total{outcome="refresh_token_reused"}': 1,
    });
    expect(increments(before, after, 'tidepass_revocations_total')).toEqual({
      'tidepass_revocations_total{reason="REFRESH_TOKEN_REUSE"}': 1,
      'tidepass_revocations_total{reason="LOGOUT"}': 1,
    });
    expect(increments(before, after, 'tidepass_graphql_requests_total')).toEqual({
      'tidepass_graphql_requests_total{operation="signUp",type="mutation"}': 1,
      'tidepass_graphql_requests_total{operation="login",type="mutation"}': 2,
      'tidepass_graphql_requests_total{operation="refresh",type="mutation"}': 3,
      'tidepass_graphql_requests_total{operation="logout",type="mutation"}': 1,
    });
    expect(increments(before, after, 'tidepass_graphql_errors_total')).toEqual({
      'tidepass_graphql_errors_total{operation="login",type="mutation",code="INVALID_CREDENTIALS",phase="execute"}': 1,
      'tidepass_graphql_errors_total{operation="refresh",type="mutation",code="REFRESH_TOKEN_REUSED",phase="execute"}': 1,
    });
    expect(after.get('tidepass_graphql_request_duration_seconds_count{operation="login",type="mutation"}')).toBe(
      (before.get('tidepass_graphql_request_duration_seconds_count{operation="login",type="mutation"}') ?? 0) + 2,
    );
    // Both sessions ended, held in memory to refuse their access tokens.
    expect(after.get('tidepass_revocation_set_size')).toBe((before.get('tidepass_revocation_set_size') ?? 0) + 2);
  });

  it('shows the state gauges, the mail backlog and process metrics', async () => {
    const scraped = await scrape(t.url);
    expect(scraped.get('tidepass_listen_synchronised')).toBe(1);
    expect(scraped.get('tidepass_live_subscribers{transport="ws"}')).toBe(0);
    expect(scraped.get('tidepass_live_subscribers{transport="sse"}')).toBe(0);
    expect(scraped.get('tidepass_pending_end_oldest_age_seconds')).toBe(0);
    expect(scraped.get('tidepass_outbox_backlog{outbox="mail"}')).toBeGreaterThanOrEqual(0);
    expect(scraped.has('tidepass_process_cpu_user_seconds_total')).toBe(true);
    expect(scraped.has('tidepass_listen_reconnects_total')).toBe(true);
    expect(scraped.has('tidepass_revocation_propagation_seconds_count')).toBe(true);
  });

  it('refuses without the token, and with a wrong one', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: `Bearer ${TOKEN}x` }, { authorization: TOKEN }, { authorization: 'Bearer ' }]) {
      const response = await fetch(`${t.url}/metrics`, { headers });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await response.text()).not.toContain('tidepass_');
    }
  });
});

describe('GET /metrics with METRICS_PORT', () => {
  it('is served on that port only; the main port answers 404', async () => {
    await withTestApp({ env: { METRICS_PORT: '0' } }, async (t) => {
      const { url, metricsUrl } = await t.app.start();
      expect(metricsUrl).toBeDefined();
      expect((await scrape(metricsUrl!, undefined)).has('tidepass_logins_total')).toBe(false);
      expect((await fetch(`${url}/metrics`)).status).toBe(404);
      expect((await fetch(`${metricsUrl!}/graphql`)).status).toBe(404);
    });
  });

  it('still requires METRICS_TOKEN there when both are set', async () => {
    await withTestApp({ env: { METRICS_PORT: '0', METRICS_TOKEN: TOKEN } }, async (t) => {
      const { url, metricsUrl } = await t.app.start();
      expect((await fetch(`${metricsUrl!}/metrics`)).status).toBe(401);
      await scrape(metricsUrl!);
      expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    });
  });
});

describe('GET /metrics unconfigured', () => {
  it('is off (404)', async () => {
    await withTestApp({}, async (t) => {
      const { url } = await t.app.start();
      expect((await fetch(`${url}/metrics`)).status).toBe(404);
      expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    });
  });
});
