import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createJsonLogger } from './logger.js';

const logger = createJsonLogger();

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await buildApp(config, { logger });
  const { url } = await app.start();
  logger.info('started', {
    page: `${url}/`,
    graphql: `${url}/graphql`,
    graphiql: config.graphiql === 'nobody' ? 'off' : `${url}/graphql`,
    // Who gets GraphiQL and introspection, and an unexpected error's details: everyone, loopback or nobody.
    graphiqlFor: config.graphiql,
    errorDetailsFor: config.errorDetails,
    // Never SMTP_URL itself: it holds the SMTP password.
    mail: app.mail.devMailbox ? `development mailbox at ${url}/dev/mailbox` : config.mail.enabled ? 'SMTP (SMTP_URL)' : 'off (MAIL=disabled)',
    database: app.database.kind === 'postgres' ? 'postgresql (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`,
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    // A hard deadline: whatever still hangs after 10 s must not keep the process alive.
    setTimeout(() => process.exit(1), 10_000).unref();
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('stop failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    logger.error('failed to start', { error });
  }
  process.exit(1);
});
