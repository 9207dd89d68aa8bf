import type { Command } from './command.js';
import { withDatabase } from './database.js';

export const migrate: Command = {
  name: 'migrate',
  summary: 'Apply the database migrations (drizzle/) that are not applied yet.',
  arguments: '',
  description:
    'Applies the migrations in drizzle/ to the database of DATABASE_URL, or to the PGlite directory DATA_DIR.\n' +
    'The server also applies them when it starts; run this first to migrate before rolling out instances.',
  positionalCount: 0,
  async run({ config, output }) {
    const settings = config();
    await withDatabase(settings, async () => {});
    output.err(`Migrated ${settings.databaseUrl ? 'the PostgreSQL database (DATABASE_URL)' : `the PGlite directory ${settings.dataDir}`}.`);
  },
};
