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
    // graphql is a dual package without "exports": Node (and so Pothos and yoga) loads its CommonJS
    // build, while Vite would pick "module" (index.mjs) for our own imports. Two copies of graphql
    // cannot share a schema ("from another module or realm"), so tests load the one Node loads.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    // Bundles web/ into dist/web/, which the server serves at GET /.
    globalSetup: ['test/helpers/build-web.ts'],
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
