import { defineConfig } from 'vitest/config';

/**
 * Every test file runs on PGlite, and again on PostgreSQL when TEST_DATABASE_URL is set
 * (CI sets it). Each file gets its own database.
 */
const postgresUrl = process.env.TEST_DATABASE_URL;
if (!postgresUrl) {
  console.log('TEST_DATABASE_URL is not set: the PostgreSQL suite is skipped; running on PGlite only.');
}

export default defineConfig({
  resolve: {
    // graphql 16 ships ESM (module field) and CommonJS (main). Vite would pick the ESM build for our code
    // while Node loads the CommonJS one for the libraries: two graphql realms in one process. Pin one.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'pglite', env: { TEST_BACKEND: 'pglite' } } },
      ...(postgresUrl
        ? [{ extends: true as const, test: { name: 'postgres', env: { TEST_BACKEND: 'postgres' } } }]
        : []),
    ],
  },
});
