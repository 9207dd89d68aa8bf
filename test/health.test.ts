import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonLogger } from '../src/logger.js';
import { createTestApp, useTestApp, type TestApp } from './helpers/app.js';
import { login, PASSWORD, REFRESH, signUp, uniqueEmail } from './helpers/auth-flows.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { codes } from './helpers/gql.js';

const t = useTestApp();

const get = (app: TestApp, path: string) => app.app.yoga.fetch(`http://localhost${path}`);

describe('health and readiness', () => {
  it('answers GET /health and GET /ready while the database answers', async () => {
    expect((await get(t, '/health')).status).toBe(200);
    expect((await get(t, '/ready')).status).toBe(200);
  });

  describe('when the database stops answering', () => {
    let database: TestDatabase;
    let down: TestApp;
    const downLines: string[] = [];
    beforeAll(async () => {
      database = await createTestDatabase();
      down = await createTestApp({ database, clock: t.clock, logger: createJsonLogger({ write: (line) => downLines.push(line) }) });
    });
    afterAll(async () => {
      await down?.close();
      await database?.drop().catch(() => {});
    });

    it('says not ready, answers SERVICE_UNAVAILABLE without details, and stays up', async () => {
      const session = await signUp(down.gql);
      const ended = await login(down.gql, { email: session.user.email });
      await down.gql('mutation { logout }', {}, { token: ended.accessToken });
      await database.handle.close();

      expect((await get(down, '/ready')).status).not.toBe(200);
      expect((await get(down, '/health')).status).toBe(200);

      const loggedIn = await down.gql(`mutation { login(email: "a@example.com", password: "${PASSWORD}") { accessToken } }`);
      expect(loggedIn.errors).toEqual([
        {
          message: 'The service is temporarily unavailable.',
          locations: expect.any(Array),
          path: ['login'],
          extensions: { code: 'SERVICE_UNAVAILABLE' },
        },
      ]);
      // An outage never reads as a bad credential.
      expect(codes(await down.gql(REFRESH, { refreshToken: session.refreshToken }))).toEqual(['SERVICE_UNAVAILABLE']);
      // me { id } comes from the token; the email needs the database.
      expect(codes(await down.gql('{ me { email } }', {}, { token: session.accessToken }))).toEqual([
        'SERVICE_UNAVAILABLE',
      ]);
      // Access tokens, and the revocation of their sessions, are checked without the database; and
      // the user's id comes from the token, so `me { id }` needs no query at all.
      const me = await down.gql('{ me { id } }', {}, { token: session.accessToken });
      expect(me.errors).toBeUndefined();
      expect(me.data).toEqual({ me: { id: session.user.id } });
      expect(codes(await down.gql('{ me { id } }', {}, { token: 'not-a-token' }))).toEqual(['INVALID_TOKEN']);
      expect(codes(await down.gql('{ me { id } }', {}, { token: ended.accessToken }))).toEqual(['SESSION_REVOKED']);
    });

    it('logs the fault without the values of the failed queries', async () => {
      const session = await login(t.gql, { email: (await signUp(t.gql)).user.email });
      downLines.length = 0;
      expect(codes(await down.gql(REFRESH, { refreshToken: session.refreshToken }))).toEqual(['SERVICE_UNAVAILABLE']);
      const email = uniqueEmail();
      await down.gql(`mutation { signUp(email: "${email}", password: "${PASSWORD}") { accessToken } }`);

      const errors = downLines.map((line) => JSON.parse(line) as { level: string }).filter((entry) => entry.level === 'error');
      expect(errors.length).toBeGreaterThanOrEqual(2);
      const logged = downLines.join('\n');
      const { createHash } = await import('node:crypto');
      expect(logged).not.toContain(createHash('sha256').update(session.refreshToken).digest('hex'));
      expect(logged).not.toContain(session.refreshToken);
      expect(logged).not.toContain(email);
      expect(logged).not.toContain('$argon2id$');
    });

  });
});
