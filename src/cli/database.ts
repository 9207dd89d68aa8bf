import type { Config } from '../config.js';
import { connectPostgres, openPglite, type DatabaseHandle } from '../db/client.js';

/**
 * The database the server would use (DATABASE_URL, else the PGlite directory DATA_DIR), migrated, for
 * the length of `work`. PGlite is one process's: stop the server before running a command on its directory.
 */
export async function withDatabase<T>(config: Config, work: (database: DatabaseHandle) => Promise<T>): Promise<T> {
  const database = config.databaseUrl ? connectPostgres(config.databaseUrl, { max: 2 }) : await openPglite(config.dataDir);
  try {
    await database.migrate();
    return await work(database);
  } finally {
    await database.close();
  }
}
