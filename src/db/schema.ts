/**
 * Every table, for drizzle-kit (drizzle.config.ts) and the code: one module per concern in schema/.
 */
export * from './schema/accounts.js';
export * from './schema/email.js';
export * from './schema/webhooks.js';
export * from './schema/second-factors.js';
