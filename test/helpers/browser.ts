import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { buildApp, type App } from '../../src/app.js';
import { silentLogger } from '../../src/logger.js';
import { testConfig, type TestEnv } from './app.js';
import { createTestDatabase, type TestDatabase } from './database.js';

/** Debian's chromium package (.ci/run installs it); never a browser downloaded by Playwright. */
export const CHROMIUM = '/usr/bin/chromium';
export const chromiumInstalled = existsSync(CHROMIUM);

export const ARTIFACTS = new URL('../artifacts/', import.meta.url);

export async function launchChromium(): Promise<Browser> {
  await mkdir(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

export interface ServedApp {
  readonly app: App;
  /** http://localhost:<port>: localhost rather than 127.0.0.1, the name a developer's browser uses. */
  readonly url: string;
  close(): Promise<void>;
}

/** A whole app on a real port and the real clock: a browser's timers cannot be faked from here. */
export async function serveApp(env: TestEnv = {}): Promise<ServedApp> {
  const database: TestDatabase = await createTestDatabase();
  const app = await buildApp(testConfig({ HOST: '127.0.0.1', ...env }), { database: database.handle, logger: silentLogger });
  const { url } = await app.start();
  return {
    app,
    url: url.replace('127.0.0.1', 'localhost'),
    close: async () => {
      await app.stop();
      await database.drop();
    },
  };
}

/** A blank page on another origin (another port of localhost), to call the API from. */
export async function serveOtherOrigin(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end('<!doctype html><html lang="en"><title>another origin</title><p>another origin</p></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
