import { TOTP } from 'otpauth';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumInstalled, launchChromium, serveApp, type ServedApp } from './helpers/browser.js';
import { backend } from './helpers/database.js';

/**
 * The authenticator app on the devices page, in headless Chromium against a real server (real
 * clock): set up with the QR code's key, recovery codes shown once, and the log-in form's second step.
 * The codes are computed here, as the phone would.
 */

const PASSWORD = 'correct horse battery';
const runs = chromiumInstalled && backend === 'pglite';

/** The code for the step after the current one: the enrolment spent the current step (no replay), and one step of drift is allowed. */
function nextCode(secret: string): string {
  return new TOTP({ secret, algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: Date.now() + 30_000 });
}

const codeInput = (page: Page) => page.getByRole('textbox', { name: 'Authentication code' });
const signedInHeading = (page: Page) => page.getByRole('heading', { name: 'Your devices' });

describe.runIf(runs)('the authenticator app on the devices page in Chromium', () => {
  let browser: Browser;
  let server: ServedApp;

  beforeAll(async () => {
    [browser, server] = await Promise.all([launchChromium(), serveApp()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('sets up the app, shows the recovery codes once, and asks for the code at the next log-in', async () => {
    const page = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const email = 'totp-page@example.com';
    await page.goto(`${server.url}/`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up', exact: true }).click();
    await signedInHeading(page).waitFor();

    await page.getByRole('region', { name: 'Security' }).waitFor();
    await page.getByRole('button', { name: 'Set up authenticator app' }).click();
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    const secret = (await page.locator('#security-work code').textContent())!;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const now = new TOTP({ secret, algorithm: 'SHA1', digits: 6, period: 30 }).generate();
    await codeInput(page).fill(now);
    await page.getByRole('button', { name: 'Verify' }).click();
    const codes = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
    await expect.poll(() => codes.count()).toBe(10);
    await expect.poll(() => page.locator('#security-summary').textContent()).toContain('Recovery codes left: 10');

    // Log out; logging in again asks for the second step.
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.getByRole('button', { name: 'Log in', exact: true }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await codeInput(page).waitFor();
    await codeInput(page).fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => page.locator('#second-step-error').textContent()).toContain('not right');
    await codeInput(page).fill(nextCode(secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await signedInHeading(page).waitFor();
    // The recovery codes are not shown again.
    await expect.poll(() => page.locator('#security-summary').textContent()).toContain('Authenticator app: on');
    expect(await page.getByRole('list', { name: 'Recovery codes' }).count()).toBe(0);
    // The session survives a reload: the second step's refresh token went into the cookie.
    await page.reload();
    await signedInHeading(page).waitFor();
    expect(errors).toEqual([]);
  });
});
