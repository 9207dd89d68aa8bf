import { InvalidVerificationKey, loadSigningKeys, SigningKeyLocked } from '../auth/keys.js';
import { SecretBox } from '../auth/secret-box.js';
import { systemClock } from '../clock.js';
import { invalidConfiguration } from '../config.js';
import type { Command } from './command.js';
import { withDatabase } from './database.js';

export const printJwks: Command = {
  name: 'print-jwks',
  summary: 'Print the public JWKS (what GET /.well-known/jwks.json serves) as JSON on stdout.',
  arguments: '',
  description:
    'Loads the signing keys as the server does (JWT_PRIVATE_KEY, or the key stored in the database, opened\n' +
    'with KEY_ENCRYPTION_KEY; plus JWT_VERIFICATION_KEYS) and prints their public parts: give it to a\n' +
    'service that verifies access tokens without reaching this server. On a fresh database, the stored\n' +
    'key is generated first, as the first start would. Private keys are never printed.',
  positionalCount: 0,
  async run({ config, output }) {
    const settings = config();
    const jwks = await withDatabase(settings, async (database) => {
      // The same options as the server's (src/app.ts), so that both publish the same keys.
      try {
        const keys = await loadSigningKeys(database.db, {
          privateJwk: settings.jwtPrivateKey,
          verificationJwks: settings.jwtVerificationKeys,
          clock: systemClock,
          secretBox: settings.keyEncryptionKey && new SecretBox(settings.keyEncryptionKey),
        });
        return keys.jwks;
      } catch (error) {
        if (error instanceof InvalidVerificationKey) throw invalidConfiguration([['JWT_VERIFICATION_KEYS', error.message]]);
        if (error instanceof SigningKeyLocked) throw invalidConfiguration([['KEY_ENCRYPTION_KEY', error.message]]);
        throw error;
      }
    });
    output.out(JSON.stringify(jwks, null, 2));
  },
};
