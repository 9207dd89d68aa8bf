import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { backend } from './helpers/database.js';
import { REFRESH_COOKIE as COOKIE } from './helpers/page-post.js';
import {
  ARTIFACTS,
  chromiumInstalled,
  CHROMIUM,
  launchChromium,
  serveApp,
  serveOtherOrigin,
  type ServedApp,
} from './helpers/browser.js';

/**
 * The devices page and GraphiQL in headless Chromium, against a real server on a real port with the
 * real clock. Once, on PGlite: the database is not what this suite tests, and a browser is slow.
 */

const PASSWORD = 'correct horse battery';
const runs = chromiumInstalled && backend === 'pglite';

it.runIf(!chromiumInstalled && process.env['CI'])('has Chromium installed in CI (.ci/run installs it)', () => {
  expect(chromiumInstalled, `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(true);
});

let emails = 0;
const newEmail = () => `user${++emails}@example.com`;

/** Error codes of every GraphQL answer a page receives, and how many refreshes succeeded. */
function watchGraphql(page: Page): { codes: string[]; refreshes: number } {
  const seen = { codes: [] as string[], refreshes: 0 };
  page.on('response', async (response) => {
    if (!response.url().endsWith('/graphql') || response.request().method() !== 'POST') return;
    const body = (await response.json().catch(() => null)) as { errors?: { extensions?: { code?: string } }[] } | null;
    if (response.request().postData()?.includes('mutation Refresh') && !body?.errors) seen.refreshes++;
    for (const error of body?.errors ?? []) seen.codes.push(error.extensions?.code ?? 'NONE');
  });
  return seen;
}

/** CSP violations, script errors and requests to any other origin than the server's (and blob:/data:). */
function watchProblems(page: Page, origin: string): string[] {
  const problems: string[] = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('blob:') && !url.startsWith('data:')) problems.push(`request ${url}`);
  });
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`error ${error.message}`));
  return problems;
}

const devices = (page: Page) => page.getByRole('list', { name: 'Your devices' }).getByRole('listitem');
const deviceRow = (page: Page, name: string) => devices(page).filter({ hasText: name });
const signedInHeading = (page: Page) => page.getByRole('heading', { name: 'Your devices' });
/** The page's sessionRevoked subscription is connected (the list carries data-live="true"). */
const live = (page: Page) => page.locator('ul[data-live="true"]').waitFor();
const logInButton = (page: Page) => page.getByRole('button', { name: 'Log in', exact: true });

async function fillCredentials(page: Page, email: string, deviceName: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Device name').fill(deviceName);
}

async function signUp(page: Page, server: ServedApp, email: string, deviceName: string): Promise<void> {
  await page.goto(`${server.url}/`);
  await fillCredentials(page, email, deviceName);
  await page.getByRole('button', { name: 'Sign up', exact: true }).click();
  await signedInHeading(page).waitFor();
}

async function logIn(page: Page, server: ServedApp, email: string, deviceName: string): Promise<void> {
  await page.goto(`${server.url}/`);
  await fillCredentials(page, email, deviceName);
  await logInButton(page).click();
  await signedInHeading(page).waitFor();
}

/** GraphQL from Node, as another device would call it (BODY delivery). */
async function gql(server: ServedApp, query: string, token?: string): Promise<any> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  return response.json();
}

describe.runIf(runs)('the devices page in Chromium', () => {
  let browser: Browser;
  let server: ServedApp;
  let allowed: Awaited<ReturnType<typeof serveOtherOrigin>>;
  let foreign: Awaited<ReturnType<typeof serveOtherOrigin>>;
  const contexts: BrowserContext[] = [];
  const newContext = async (userAgent?: string) => {
    const context = await browser.newContext({ viewport: { width: 900, height: 700 }, ...(userAgent ? { userAgent } : {}) });
    contexts.push(context);
    return context;
  };

  beforeAll(async () => {
    [browser, allowed, foreign] = await Promise.all([launchChromium(), serveOtherOrigin(), serveOtherOrigin()]);
    server = await serveApp({ CORS_ORIGINS: allowed.url });
  });
  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
    await allowed?.close();
    await foreign?.close();
  });

  it('keeps the refresh token in an HttpOnly cookie that scripts cannot read, and stays signed in across a reload', async () => {
    const page = await (await newContext()).newPage();
    const graphql = watchGraphql(page);
    const problems = watchProblems(page, server.url);
    await page.goto(`${server.url}/`);
    await logInButton(page).waitFor();
    await page.screenshot({ path: new URL('signed-out.png', ARTIFACTS).pathname });

    await signUp(page, server, newEmail(), 'Laptop');
    // Signed out, the page tried a silent refresh without a cookie, as it must: that one failed.
    expect(graphql.codes).toEqual(['INVALID_REFRESH_TOKEN', 'INVALID_REFRESH_TOKEN']);
    graphql.codes.length = 0;
    await deviceRow(page, 'Laptop').getByText('This device').waitFor();
    const cookies = await page.context().cookies();
    expect(cookies.map(({ name, httpOnly, secure, sameSite, path }) => ({ name, httpOnly, secure, sameSite, path }))).toEqual([
      { name: COOKIE, httpOnly: true, secure: true, sameSite: 'Strict', path: '/' },
    ]);
    expect(await page.evaluate(() => document.cookie)).toBe('');
    // The access token lives in memory only.
    expect(await page.evaluate(() => localStorage.length + sessionStorage.length)).toBe(0);

    await page.reload();
    await deviceRow(page, 'Laptop').getByText('This device').waitFor();
    expect(graphql.codes).toEqual([]);
    // The page works under its own CSP: no inline code, nothing from elsewhere, the WebSocket allowed.
    await live(page);
    expect(problems).toEqual([]);
  });

  it('A revokes B: B shows the log-in form within 2 s saying why, and A no longer lists B', async () => {
    const email = 'ada@example.com';
    const a = await (await newContext()).newPage();
    await signUp(a, server, email, 'Work laptop');
    const b = await (
      await newContext('Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36')
    ).newPage();
    await logIn(b, server, email, 'Phone');
    await live(b);

    await a.reload();
    await deviceRow(a, 'Phone').waitFor();
    await expect(deviceRow(a, 'Phone').textContent()).resolves.toContain('Chrome 131 on Android');
    await expect(deviceRow(a, 'Phone').textContent()).resolves.toMatch(/IP (127\.0\.0\.1|::1|::ffff:127\.0\.0\.1) · last used just now/);
    await a.screenshot({ path: new URL('devices.png', ARTIFACTS).pathname });

    await deviceRow(a, 'Phone').getByRole('button', { name: 'Revoke', exact: true }).click();
    await logInButton(b).waitFor({ timeout: 2_000 });
    await b.getByText('This device was signed out from another of your devices.').waitFor({ timeout: 2_000 });
    await deviceRow(a, 'Phone').waitFor({ state: 'detached', timeout: 2_000 });
    expect(await devices(a).count()).toBe(1);
  });

  it('"Log out other devices" ends the others, whose pages go to the log-in form', async () => {
    const email = newEmail();
    const a = await (await newContext()).newPage();
    await signUp(a, server, email, 'Desktop');
    // By keyboard alone: Enter in the form submits it with its first button, "Log in".
    const b = await (await newContext()).newPage();
    await b.goto(`${server.url}/`);
    await b.getByLabel('Email').focus();
    await b.keyboard.type(email);
    await b.keyboard.press('Tab');
    await b.keyboard.type(PASSWORD);
    await b.keyboard.press('Tab');
    await b.keyboard.press('ControlOrMeta+A');
    await b.keyboard.type('Tablet');
    await b.keyboard.press('Enter');
    await signedInHeading(b).waitFor();
    await live(b);
    await a.getByRole('button', { name: 'Log out other devices', exact: true }).click();
    await b.getByText('This device was signed out when you logged out your other devices.').waitFor({ timeout: 2_000 });
    await a.getByText('Signed out 1 other device.').waitFor();
    expect(await devices(a).count()).toBe(1);

    await a.getByRole('button', { name: 'Log out', exact: true }).click();
    await logInButton(a).waitFor();
    await a.getByText('You logged out.', { exact: true }).waitFor();
    expect(await a.context().cookies()).toEqual([]);
  });

  it('lets a page on another origin refresh and log out with the cookie only when that origin is in CORS_ORIGINS', async () => {
    const context = await newContext();
    const page = await context.newPage();
    await signUp(page, server, newEmail(), 'Shared browser');
    await live(page);
    const other = await context.newPage();
    const call = (query: string, init: { simple?: boolean } = {}) =>
      other.evaluate(
        async ({ api, query, simple }) => {
          try {
            const response = await fetch(`${api}/graphql`, {
              method: 'POST',
              credentials: 'include',
              // text/plain is a "simple" request: sent without a preflight, its answer unreadable.
              ...(simple ? { mode: 'no-cors' as const } : {}),
              headers: { 'content-type': simple ? 'text/plain' : 'application/json' },
              body: JSON.stringify({ query }),
            });
            return { status: response.status, body: simple ? null : await response.json() };
          } catch (error) {
            return { error: String(error) };
          }
        },
        { api: server.url, query, simple: init.simple ?? false },
      );

    await other.goto(`${foreign.url}/`);
    for (const query of ['mutation { refresh { accessToken } }', 'mutation { logout }']) {
      expect(await call(query)).toEqual({ error: 'TypeError: Failed to fetch' });
      expect(await call(query, { simple: true })).toEqual({ status: 0, body: null });
    }
    // Nothing was spent or ended: the page still signs in silently from its cookie.
    await page.reload();
    await deviceRow(page, 'Shared browser').waitFor();

    await other.goto(`${allowed.url}/`);
    const refreshed = await call('mutation { refresh { accessToken refreshToken } }');
    expect(refreshed).toMatchObject({ status: 200, body: { data: { refresh: { accessToken: expect.any(String), refreshToken: null } } } });
    expect(await call('mutation { logout }')).toEqual({ status: 200, body: { data: { logout: true } } });
    expect(await context.cookies()).toEqual([]);
    // The devices page of that session hears of it.
    await page.getByText('You logged out (in another tab or window).').waitFor({ timeout: 2_000 });
  });

  it('serves GraphiQL at /graphql from this server alone, under its CSP, and runs a query', async () => {
    const page = await (await newContext()).newPage();
    const problems = watchProblems(page, server.url);

    await page.goto(`${server.url}/graphql?query=${encodeURIComponent('{ __typename }')}`);
    await page.getByRole('button', { name: /^Execute query/ }).click();
    await page.locator('.graphiql-response').getByText('"Query"').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: new URL('graphiql.png', ARTIFACTS).pathname });

    // Subscriptions go over GET (SSE) and carry the CSRF header: refused for want of a token, not as CSRF.
    await page.goto(`${server.url}/graphql?query=${encodeURIComponent('subscription { sessionRevoked { sessionId } }')}`);
    await page.getByRole('button', { name: /^Execute query/ }).click();
    await page.locator('.graphiql-response').getByText('"UNAUTHENTICATED"').waitFor({ timeout: 10_000 });
    expect(problems).toEqual([]);
  });
});

describe.runIf(runs)('the devices page with a 3-second access token', () => {
  let browser: Browser;
  let server: ServedApp;
  beforeAll(async () => {
    [browser, server] = await Promise.all([launchChromium(), serveApp({ ACCESS_TOKEN_TTL: '3' })]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('keeps two tabs signed in across token expiries, refreshing one at a time: never REFRESH_TOKEN_ROTATED or _REUSED', async () => {
    const context = await browser.newContext();
    const first = await context.newPage();
    const second = await context.newPage();
    const seen = [watchGraphql(first), watchGraphql(second)];
    const email = newEmail();
    await signUp(first, server, email, 'Laptop');
    seen[0]!.codes.length = 0; // the silent refresh of the signed-out page
    await second.goto(`${server.url}/`);
    await deviceRow(second, 'Laptop').getByText('This device').waitFor();

    // Several lifetimes of the access token pass; each tab refreshes about every 2.25 s.
    await expect
      .poll(() => seen[0]!.refreshes + seen[1]!.refreshes, { timeout: 15_000, interval: 250 })
      .toBeGreaterThanOrEqual(6);
    expect(seen[0]!.refreshes).toBeGreaterThanOrEqual(2);
    expect(seen[1]!.refreshes).toBeGreaterThanOrEqual(2);

    // Both tabs still make authenticated calls, and their live subscriptions (reconnected at every
    // token expiry) still deliver: another device signs in, then out.
    const tablet = await gql(
      server,
      `mutation { login(email: "${email}", password: "${PASSWORD}", deviceName: "Tablet") { accessToken } }`,
    );
    for (const page of [first, second]) await deviceRow(page, 'Tablet').waitFor({ timeout: 5_000 });
    const events = await gql(server, '{ myAuthEvents(first: 100) { type } }', tablet.data.login.accessToken);
    const types = (events.data.myAuthEvents as { type: string }[]).map((event) => event.type);
    expect(types.filter((type) => type === 'REFRESHED').length).toBeGreaterThanOrEqual(6);
    expect(types).not.toContain('REFRESH_TOKEN_REUSED');
    await gql(server, 'mutation { logout }', tablet.data.login.accessToken);
    for (const page of [first, second]) await deviceRow(page, 'Tablet').waitFor({ state: 'detached', timeout: 2_000 });

    expect([...seen[0]!.codes, ...seen[1]!.codes]).toEqual([]);
    await context.close();
  });
});
