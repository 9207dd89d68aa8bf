import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createTestApp, TEST_KEY_ENCRYPTION_KEY, useTestApp, withTestApp, type TestApp } from './helpers/app.js';
import { PAGE_ENV, SERVER } from './helpers/page-post.js';

/** The devices page, its assets and GraphiQL: what is served, with which headers, and where. */

// GRAPHIQL=true: in process there is no loopback socket, and GraphiQL is otherwise served to loopback clients only.
const t = useTestApp({ env: { ...PAGE_ENV, GRAPHIQL: 'true' } });

const get = (app: TestApp, path: string, accept = 'text/html') =>
  app.app.yoga.fetch(`${SERVER}${path}`, { headers: { accept } });

function policyOf(response: Response): Map<string, string> {
  const header = response.headers.get('content-security-policy') ?? '';
  return new Map(header.split(';').map((part) => {
    const [name = '', ...sources] = part.trim().split(/\s+/);
    return [name, sources.join(' ')] as const;
  }));
}

describe('HTML responses', () => {
  it('serves the page at GET / with a CSP that allows only its own script, style and connections', async () => {
    const response = await get(t, '/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await response.text();
    expect(html).toContain('<script type="module" src="/assets/app.js"></script>');
    expect(html).not.toMatch(/<script>|<style>| style=| on[a-z]+=/);
    const policy = policyOf(response);
    expect(policy.get('default-src')).toBe("'none'");
    expect(policy.get('script-src')).toBe("'self'");
    expect(policy.get('style-src')).toBe("'self'");
    expect(policy.get('connect-src')).toBe("'self' ws://localhost:4000");
    expect(policy.get('frame-ancestors')).toBe("'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
  });

  it('answers 503 with what to run, and keeps answering the API, when the page is not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'tidepass-unbuilt-'));
    const unbuilt = await createTestApp({ pageDirectory: pathToFileURL(`${empty}/`) });
    try {
      for (const path of ['/', '/assets/app.js']) {
        const response = await get(unbuilt, path, '*/*');
        expect(response.status, path).toBe(503);
        expect(await response.text()).toBe('The page is not built: run npm run build:web.\n');
      }
      const api = await unbuilt.gql('{ __typename }');
      expect(api.data).toEqual({ __typename: 'Query' });
    } finally {
      await unbuilt.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('serves the page\'s script and styles from the build', async () => {
    const script = await get(t, '/assets/app.js', '*/*');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain('sessionRevoked');
    const styles = await get(t, '/assets/app.css', '*/*');
    expect(styles.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(styles.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('serves GraphiQL with a CSP, loading everything from this server', async () => {
    const response = await get(t, '/graphql');
    const html = await response.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script>/);
    const policy = policyOf(response);
    expect(policy.get('script-src')).toBe("'self'");
    expect(policy.get('worker-src')).toBe("'self'");
    expect(policy.get('frame-ancestors')).toBe("'none'");
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    for (const asset of ['graphiql.js', 'graphiql.css', 'monaco-environment.js', 'start.js', 'editor.worker.js', 'json.worker.js', 'graphql.worker.js']) {
      const served = await get(t, `/graphiql/${asset}`, '*/*');
      expect(served.status, asset).toBe(200);
      await served.arrayBuffer();
    }
  });

  it('serves GraphiQL on GET /graphql to a browser with GRAPHIQL=true', async () => {
    const response = await get(t, '/graphql');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(await response.text()).toContain('tidepass');
  });
});

describe('GraphiQL and introspection in production', () => {
  const INTROSPECTION = '{ __schema { queryType { name } } }';

  const inProduction = (env: Record<string, string>, check: (app: TestApp) => Promise<void>) =>
    withTestApp({ env: { NODE_ENV: 'production', MAIL: 'disabled', ...env }, beside: t }, check);

  it('are off by default: no GraphiQL HTML or assets, introspection GRAPHQL_VALIDATION_FAILED', async () => {
    await inProduction({}, async (app) => {
      const html = await app.app.yoga.fetch(`${SERVER}/graphql`, { headers: { accept: 'text/html' } });
      expect(await html.text()).not.toContain('<html');
      const asset = await app.app.yoga.fetch(`${SERVER}/graphiql/graphiql.js`);
      expect(asset.status).toBe(404);
      const introspection = await app.gql(INTROSPECTION);
      expect(introspection.errors?.length).toBeGreaterThan(0);
      for (const error of introspection.errors!) expect(error.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(introspection.data).toBeUndefined();
      // Ordinary operations, __typename included, still run.
      expect((await app.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
    });
  });

  it('are on with GRAPHIQL=true', async () => {
    await inProduction({ GRAPHIQL: 'true' }, async (app) => {
      const html = await app.app.yoga.fetch(`${SERVER}/graphql`, { headers: { accept: 'text/html' } });
      expect(await html.text()).toContain('/graphiql/graphiql.js');
      expect((await app.gql(INTROSPECTION)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    });
  });

  it('serves no GraphiQL in production', async () => {
    await inProduction({}, async (production) => {
      const response = await get(production, '/graphql');
      expect(response.headers.get('content-type') ?? '').not.toContain('text/html');
      expect(await response.text()).not.toContain('<html');
    });
  });

  it('turns GraphiQL off in production unless GRAPHIQL=true, on for everyone with NODE_ENV=development, and for loopback clients otherwise', () => {
    const production = { NODE_ENV: 'production', KEY_ENCRYPTION_KEY: TEST_KEY_ENCRYPTION_KEY, MAIL: 'disabled' };
    expect(loadConfig(production).graphiql).toBe('nobody');
    expect(loadConfig({ ...production, GRAPHIQL: 'true' }).graphiql).toBe('everyone');
    expect(loadConfig({}).graphiql).toBe('loopback');
    expect(loadConfig({ NODE_ENV: 'development' }).graphiql).toBe('everyone');
    expect(loadConfig({ GRAPHIQL: 'false' }).graphiql).toBe('nobody');
    expect(() => loadConfig({ GRAPHIQL: 'sometimes' })).toThrow(/GRAPHIQL: must be true or false/);
  });
});
