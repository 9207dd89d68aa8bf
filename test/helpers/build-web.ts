import { buildWeb } from '../../web/build.js';

/** vitest globalSetup: the page is bundled once per run, so every suite serves the current web/. */
export default async function setup(): Promise<void> {
  await buildWeb();
}
