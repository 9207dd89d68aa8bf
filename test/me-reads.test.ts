import { eq, inArray } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { users } from '../src/db/schema.js';
import { createTestApp, useTestApp } from './helpers/app.js';
import { signUp, type Payload } from './helpers/auth-flows.js';
import { createTestDatabase } from './helpers/database.js';
import { codes } from './helpers/gql.js';

/**
 * `me`'s fields beyond the id are read from the database on every request (the id comes from the
 * token; a deleted account's sessions are announced as revoked), and the reads of concurrent requests
 * go to the database together, as one statement.
 * Whatever is read together, each request must get its own user, and nothing read is remembered
 * for the next request.
 */
const t = useTestApp();

const ME = '{ me { id email } }';

describe('me under concurrent requests', () => {
  it('answers each request with its own user, and SESSION_REVOKED to those of deleted accounts', async () => {
    const sessions: Payload[] = [];
    for (let i = 0; i < 8; i += 1) sessions.push(await signUp(t.gql));
    const deleted = new Set([sessions[1]!.user.id, sessions[4]!.user.id, sessions[6]!.user.id]);
    await t.app.database.db.delete(users).where(inArray(users.id, [...deleted]));

    // Every session twice, interleaved, all at once.
    const asked = [...sessions, ...sessions.toReversed()];
    const answers = await Promise.all(asked.map((session) => t.gql(ME, {}, { token: session.accessToken })));

    answers.forEach((answer, i) => {
      const { user } = asked[i]!;
      if (deleted.has(user.id)) {
        expect(codes(answer)).toEqual(['SESSION_REVOKED']);
        expect(answer.data).toBeNull();
      } else {
        expect(answer.errors).toBeUndefined();
        expect(answer.data).toEqual({ me: { id: user.id, email: user.email } });
      }
    });
  });

  it('reads the user anew for every request: one deleted after a request read it is refused on the next', async () => {
    const session = await signUp(t.gql);
    const first = await Promise.all([1, 2, 3].map(() => t.gql(ME, {}, { token: session.accessToken })));
    for (const answer of first) expect(answer.data).toEqual({ me: { id: session.user.id, email: session.user.email } });

    await t.app.database.db.delete(users).where(eq(users.id, session.user.id));
    const after = await Promise.all([1, 2, 3].map(() => t.gql(ME, {}, { token: session.accessToken })));
    for (const answer of after) expect(codes(answer)).toEqual(['SESSION_REVOKED']);
  });

  it('answers the same user to every alias of me in one operation', async () => {
    const session = await signUp(t.gql);
    const answer = await t.gql('{ a: me { id } b: me { email } c: me { id email } }', {}, { token: session.accessToken });
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({
      a: { id: session.user.id },
      b: { email: session.user.email },
      c: { id: session.user.id, email: session.user.email },
    });
  });

  it('answers SERVICE_UNAVAILABLE to every one of concurrent requests while the database is down', async () => {
    const database = await createTestDatabase();
    const down = await createTestApp({ database, clock: t.clock });
    try {
      const sessions = [await signUp(down.gql), await signUp(down.gql), await signUp(down.gql)];
      await database.handle.close();
      const answers = await Promise.all(sessions.map((session) => down.gql(ME, {}, { token: session.accessToken })));
      for (const answer of answers) expect(codes(answer)).toEqual(['SERVICE_UNAVAILABLE']);
    } finally {
      await down.close();
      await database.drop().catch(() => {});
    }
  });
});
