import { RevocationSet } from '../auth/revocations.js';
import { sweepRetention } from '../auth/retention.js';
import { systemClock } from '../clock.js';
import type { Command } from './command.js';
import { withDatabase } from './database.js';

export const sweep: Command = {
  name: 'sweep',
  summary: 'Run the retention sweep now (the server runs it every 10 minutes).',
  arguments: '',
  description:
    'Deletes sessions ended more than SESSION_RETENTION ago with their refresh tokens, spent refresh tokens\n' +
    'as old, audit events older than AUTH_EVENT_RETENTION and expired tombstones of deleted sessions, in\n' +
    'bounded batches (run it again if the counts reach the batch limit). Prints the counts as JSON on stdout.\n' +
    'Safe beside running instances: one sweeper at a time (an advisory lock), the others skip.',
  positionalCount: 0,
  async run({ config, output }) {
    const settings = config();
    const policy = {
      sessionRetention: settings.sessionRetention,
      authEventRetention: settings.authEventRetention,
      // The revocation window, as the server computes it.
      deletedSessionRetention: new RevocationSet(settings.accessTokenTtl, systemClock).windowSeconds,
    };
    const swept = await withDatabase(settings, (database) => sweepRetention({ db: database.db, clock: systemClock, policy }));
    output.out(JSON.stringify(swept));
  },
};
