import { grantAdminByEmail } from '../auth/admin/roles.js';
import { normaliseEmail } from '../auth/users.js';
import { systemClock } from '../clock.js';
import { AuthError } from '../errors.js';
import { CommandError, type Command } from './command.js';
import { withDatabase } from './database.js';

export const grantAdmin: Command = {
  name: 'grant-admin',
  summary: 'Make the user of this email an admin (the first admin is granted this way).',
  arguments: '<email>',
  description:
    'Gives the ADMIN role to the existing user with this email (sign up first). Admins then grant\n' +
    'others with setUserRole. Recorded in the user\'s audit log (USER_ROLE_CHANGED, no actor).\n' +
    'Exit status 1 when there is no such user.',
  positionalCount: 1,
  async run({ positionals, config, output }) {
    let email: string;
    try {
      email = normaliseEmail(positionals[0]!);
    } catch (error) {
      if (error instanceof AuthError) throw new CommandError(`Not a valid email address: ${positionals[0]}`, 2);
      throw error;
    }
    const outcome = await withDatabase(config(), (database) => grantAdminByEmail(database.db, systemClock, email));
    if (outcome === 'no-such-user') throw new CommandError(`No user with the email ${email}.`);
    output.err(outcome === 'granted' ? `${email} is now an admin.` : `${email} was already an admin.`);
  },
};
