import { sql } from 'drizzle-orm';
import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { rowsOf } from '../src/db/client.js';
import { createTestApp, withTestApp, type TestApp } from './helpers/app.js';
import { signUp } from './helpers/auth-flows.js';
import { codes } from './helpers/gql.js';

/** The generated signing key at rest: sealed under KEY_ENCRYPTION_KEY (AES-256-GCM), never readable from the database alone. */

const kek = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');

async function storedKeys(app: TestApp): Promise<{ kid: string; private_jwk: Record<string, unknown> }[]> {
  return rowsOf(await app.app.database.db.execute(sql`select kid, private_jwk from signing_keys order by created_at`));
}

async function refusal(start: () => Promise<unknown>): Promise<string> {
  try {
    await start();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('started');
}

describe('with KEY_ENCRYPTION_KEY', () => {
  it('stores the generated key sealed, and another instance with the same key signs and verifies with it', async () => {
    const key = kek();
    await withTestApp({ env: { KEY_ENCRYPTION_KEY: key } }, async (first) => {
      const [row] = await storedKeys(first);
      expect(Object.keys(row!.private_jwk)).toEqual(['sealed']);
      expect(row!.private_jwk['sealed']).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);

      const session = await signUp(first.gql);
      await withTestApp({ env: { KEY_ENCRYPTION_KEY: key }, beside: first }, async (second) => {
        expect(codes(await second.gql('{ me { id } }', {}, { token: session.accessToken }))).toEqual([]);
        const theirs = await signUp(second.gql);
        expect(codes(await first.gql('{ me { id } }', {}, { token: theirs.accessToken }))).toEqual([]);
      });
    });
  });

  it('refuses to start without the key, or with another one, in one line', async () => {
    await withTestApp({ env: { KEY_ENCRYPTION_KEY: kek() } }, async (sealedKey) => {
      expect(await refusal(() => createTestApp({ env: { KEY_ENCRYPTION_KEY: '' }, beside: sealedKey }))).toBe(
        'Invalid configuration:\n  KEY_ENCRYPTION_KEY: must be set: the signing key stored in the database is encrypted',
      );
      expect(await refusal(() => createTestApp({ env: { KEY_ENCRYPTION_KEY: kek() }, beside: sealedKey }))).toBe(
        'Invalid configuration:\n  KEY_ENCRYPTION_KEY: does not open the signing key stored in the database',
      );
    });
  });

  it('seals a key stored in plain text before it was set, and keeps accepting the tokens it signed', async () => {
    await withTestApp({ env: { KEY_ENCRYPTION_KEY: '' } }, async (plain) => {
      const [before] = await storedKeys(plain);
      expect(before!.private_jwk).toHaveProperty('d');
      const session = await signUp(plain.gql);

      await withTestApp({ env: { KEY_ENCRYPTION_KEY: kek() }, beside: plain }, async (sealing) => {
        const [after] = await storedKeys(sealing);
        expect(after!.kid).toBe(before!.kid);
        expect(Object.keys(after!.private_jwk)).toEqual(['sealed']);
        expect(JSON.stringify(after)).not.toContain(before!.private_jwk['d']);
        expect(codes(await sealing.gql('{ me { id } }', {}, { token: session.accessToken }))).toEqual([]);
      });
    });
  });
});

describe('in production', () => {
  it('refuses to start without KEY_ENCRYPTION_KEY unless JWT_PRIVATE_KEY is given', async () => {
    expect(() => loadConfig({ NODE_ENV: 'production', MAIL: 'disabled' })).toThrow(
      /^Invalid configuration:\n {2}KEY_ENCRYPTION_KEY: must be set in production unless JWT_PRIVATE_KEY is[^\n]*$/,
    );
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = JSON.stringify(await exportJWK(privateKey));
    expect(loadConfig({ NODE_ENV: 'production', MAIL: 'disabled', JWT_PRIVATE_KEY: jwk }).keyEncryptionKey).toBeUndefined();
    expect(loadConfig({ NODE_ENV: 'production', MAIL: 'disabled', KEY_ENCRYPTION_KEY: kek() }).keyEncryptionKey).toHaveLength(32);
  });

  it.each(['short', Buffer.alloc(31).toString('base64url'), Buffer.alloc(33).toString('base64url'), `${kek().slice(0, 42)}+`])(
    'refuses %s as KEY_ENCRYPTION_KEY',
    (value) => {
      expect(() => loadConfig({ KEY_ENCRYPTION_KEY: value })).toThrow(/^Invalid configuration:\n {2}KEY_ENCRYPTION_KEY: must be 32 random bytes/);
    },
  );
});
