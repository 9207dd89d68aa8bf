import { defineConfig } from 'vitest/config';

/** The package's own unit tests (pure parts); the tests against a running tidepass live in the repository's test/. */
export default defineConfig({
  test: { include: ['test/**/*.test.ts'] },
});
