import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { backend } from './helpers/database.js';
import { chromiumInstalled, launchChromium, serveApp, serveOtherOrigin, type ServedApp } from './helpers/browser.js';

/**
 * Passkeys in real Chromium with a CDP virtual authenticator (platform-like: internal transport,
 * resident keys, user verification), against http://localhost:PORT: a host name, since WebAuthn
 * refuses IP addresses as RP IDs. Once, on PGlite, as the other browser tests.
 */

const PASSWORD = 'correct horse battery';
const runs = chromiumInstalled && backend === 'pglite';
const BROWSER_LIBRARY = fileURLToPath(import.meta.resolve('@simplewebauthn/browser').replace(/esm\/index\.js$/, 'dist/bundle/index.umd.min.js'));

let emails = 0;
const newEmail = () => `passkey${++emails}@example.com`;

/** A port free now, for a server whose PUBLIC_URL must name it before it listens. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function withAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

const signedInHeading = (page: Page) => page.getByRole('heading', { name: 'Your devices' });
const logInButton = (page: Page) => page.getByRole('button', { name: 'Log in', exact: true });
const passkeyButton = (page: Page) => page.getByRole('button', { name: 'Sign in with a passkey', exact: true });

async function signUp(page: Page, server: ServedApp, email: string): Promise<void> {
  await page.goto(`${server.url}/`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Device name').fill('Laptop');
  await page.getByRole('button', { name: 'Sign up', exact: true }).click();
  await signedInHeading(page).waitFor();
}

async function addPasskey(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Add a passkey', exact: true }).click();
  await page.getByText(/The passkey .* was added\./).waitFor();
}

async function logOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await logInButton(page).waitFor();
}

/** The variables of the page's last signInWithPasskey request: what a thief watching the wire would have. */
function captureSignIns(page: Page): Record<string, unknown>[] {
  const captured: Record<string, unknown>[] = [];
  page.on('request', (request) => {
    const body = request.postData();
    if (request.url().endsWith('/graphql') && body?.includes('SignInWithPasskey')) {
      captured.push((JSON.parse(body) as { variables: Record<string, unknown> }).variables);
    }
  });
  return captured;
}

async function gql(server: ServedApp, query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

const SIGN_IN = `mutation ($challengeId: ID!, $response: JSON!) {
  signInWithPasskey(challengeId: $challengeId, response: $response) { user { email } } }`;
const START_SIGN_IN = 'mutation { startPasskeySignIn { challengeId options } }';

describe.runIf(runs)('passkeys in Chromium with a virtual authenticator', { timeout: 120_000 }, () => {
  let browser: Browser;
  let server: ServedApp;
  let allowed: Awaited<ReturnType<typeof serveOtherOrigin>>;
  let foreign: Awaited<ReturnType<typeof serveOtherOrigin>>;
  const contexts: BrowserContext[] = [];
  const newPage = async () => {
    const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
    contexts.push(context);
    return context.newPage();
  };

  beforeAll(async () => {
    [browser, allowed, foreign] = await Promise.all([launchChromium(), serveOtherOrigin(), serveOtherOrigin()]);
    const port = await freePort();
    server = await serveApp({ PORT: String(port), PUBLIC_URL: `http://localhost:${port}`, WEBAUTHN_ORIGINS: allowed.url });
  }, 180_000);
  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
    await allowed?.close();
    await foreign?.close();
  });

  it('registers a discoverable passkey, then signs in with it and no email or password', async () => {
    const page = await newPage();
    const { cdp, authenticatorId } = await withAuthenticator(page);
    const email = newEmail();
    await signUp(page, server, email);
    await addPasskey(page);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });

    await page.getByRole('list', { name: 'Passkeys' }).getByRole('listitem').filter({ hasText: 'Laptop' }).waitFor();
    await logOut(page);
    await page.getByLabel('Email').fill('');
    await passkeyButton(page).click();
    await signedInHeading(page).waitFor();
    await expect(page.locator('#email-shown').textContent()).resolves.toBe(email);
  });

  it('after a password login answers MFA_REQUIRED, the passkey is the second step; Remove takes it off the list', async () => {
    const page = await newPage();
    await withAuthenticator(page);
    const email = newEmail();
    await signUp(page, server, email);
    await addPasskey(page);
    const passkeyList = page.getByRole('list', { name: 'Passkeys' }).getByRole('listitem');
    await passkeyList.filter({ hasText: 'Laptop' }).waitFor();
    await logOut(page);

    const signIns = captureSignIns(page);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Device name').fill('Second step');
    await logInButton(page).click();
    await page.getByLabel('Authentication code').waitFor();
    await passkeyButton(page).click();
    await signedInHeading(page).waitFor();
    expect(signIns).toHaveLength(1);
    // The session is the password login's: its device name, and pwd + hwk.
    const session = page.getByRole('list', { name: 'Your devices' }).getByRole('listitem').filter({ hasText: 'Second step' });
    await session.waitFor();

    await passkeyList.getByRole('button', { name: 'Remove', exact: true }).click();
    await page.getByText('The passkey Laptop was removed.').waitFor();
    expect(await passkeyList.count()).toBe(0);
  });

  it('refuses the same response sent again: the challenge is single use', async () => {
    const page = await newPage();
    await withAuthenticator(page);
    await signUp(page, server, newEmail());
    await addPasskey(page);
    await logOut(page);
    const signIns = captureSignIns(page);
    await passkeyButton(page).click();
    await signedInHeading(page).waitFor();
    expect(signIns).toHaveLength(1);

    const replayed = await gql(server, SIGN_IN, { challengeId: signIns[0]!['challengeId'], response: signIns[0]!['response'] });
    expect(replayed.errors?.map((e: any) => e.extensions?.code)).toEqual(['CHALLENGE_EXPIRED']);
    const fresh = (await gql(server, START_SIGN_IN)).data.startPasskeySignIn;
    const onFresh = await gql(server, SIGN_IN, { challengeId: fresh.challengeId, response: signIns[0]!['response'] });
    expect(onFresh.errors?.map((e: any) => e.extensions?.code)).toEqual(['PASSKEY_REJECTED']);
  });

  it('accepts a response made on an origin in WEBAUTHN_ORIGINS and refuses one made on another localhost port', async () => {
    const page = await newPage();
    await withAuthenticator(page);
    const email = newEmail();
    await signUp(page, server, email);
    await addPasskey(page);
    /** An assertion made by a page of `origin` (RP ID localhost is valid on every localhost port). */
    const assertionOn = async (origin: string) => {
      const { challengeId, options } = (await gql(server, START_SIGN_IN)).data.startPasskeySignIn;
      await page.goto(`${origin}/`);
      await page.addScriptTag({ path: BROWSER_LIBRARY });
      const response = await page.evaluate(
        (optionsJSON) =>
          (globalThis as any).SimpleWebAuthnBrowser.startAuthentication({ optionsJSON }) as Promise<unknown>,
        options,
      );
      return gql(server, SIGN_IN, { challengeId, response });
    };
    const fromAllowed = await assertionOn(allowed.url);
    expect(fromAllowed.errors).toBeUndefined();
    expect(fromAllowed.data.signInWithPasskey.user.email).toBe(email);
    const fromForeign = await assertionOn(foreign.url);
    expect(fromForeign.errors?.map((e: any) => e.extensions?.code)).toEqual(['PASSKEY_REJECTED']);
  });
});
