import { rotateSigningKey } from '../auth/key-rotation.js';
import { loadSigningKeys, SigningKeyLocked } from '../auth/keys.js';
import { SecretBox } from '../auth/secret-box.js';
import { systemClock } from '../clock.js';
import { CommandError, type Command } from './command.js';
import { withDatabase } from './database.js';

export const rotateSigningKeyCommand: Command = {
  name: 'rotate-signing-key',
  summary: 'Publish a new stored signing key, sign with it after JWKS_MAX_AGE, retire the old after ACCESS_TOKEN_TTL.',
  arguments: '',
  description:
    'For the signing key stored in the database (JWT_PRIVATE_KEY unset). Writes a new key, sealed under\n' +
    'KEY_ENCRYPTION_KEY, published in the JWKS at once; every instance signs with it once JWKS_MAX_AGE\n' +
    '(the JWKS cache time) has passed, and the keys before it leave the JWKS ACCESS_TOKEN_TTL (plus 60 s)\n' +
    'after that. Instances read the keys table every 30 s: no restart, and no token is ever refused.\n' +
    'Run it with the servers\' JWKS_MAX_AGE and ACCESS_TOKEN_TTL. Keys retired earlier are deleted.\n' +
    'Prints the new key\'s kid and times as JSON. Exit status 1 with JWT_PRIVATE_KEY set (that key is\n' +
    'the environment\'s to rotate: docs/security.md), or when KEY_ENCRYPTION_KEY does not open the stored keys.',
  positionalCount: 0,
  async run({ config, output }) {
    const settings = config();
    if (settings.jwtPrivateKey) {
      throw new CommandError(
        'JWT_PRIVATE_KEY is set: the signing key comes from the environment, not the database, so it is not ours to rotate. ' +
          'Rotate it by hand: publish the next public key in JWT_VERIFICATION_KEYS, wait JWKS_MAX_AGE, switch JWT_PRIVATE_KEY, ' +
          'and drop the old public key ACCESS_TOKEN_TTL later (docs/security.md).',
      );
    }
    const secretBox = settings.keyEncryptionKey && new SecretBox(settings.keyEncryptionKey);
    const rotation = await withDatabase(settings, async ({ db }) => {
      try {
        // Every stored key must open with this KEY_ENCRYPTION_KEY: a new key sealed under another would lock every instance out of it.
        await loadSigningKeys(db, { privateJwk: undefined, verificationJwks: [], clock: systemClock, secretBox });
      } catch (error) {
        if (error instanceof SigningKeyLocked) throw new CommandError(`KEY_ENCRYPTION_KEY ${error.message}.`);
        throw error;
      }
      return rotateSigningKey(db, { clock: systemClock, secretBox, jwksMaxAge: settings.jwksMaxAge, accessTokenTtl: settings.accessTokenTtl });
    });
    output.out(JSON.stringify(rotation));
    output.err(
      `Published key ${rotation.kid}; it signs from ${rotation.signsFrom.toISOString()}, ` +
        `and the keys before it leave the JWKS at ${rotation.previousRetireAt.toISOString()}.` +
        (rotation.deleted.length > 0 ? ` Deleted retired keys: ${rotation.deleted.join(', ')}.` : ''),
    );
  },
};
