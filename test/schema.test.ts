import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { schemaFile } from '../src/graphql/print-schema.js';
import { printSortedSchema } from '../src/graphql/schema/index.js';

/** Throws, naming the script that fixes it, when the committed SDL is not what the code prints. */
function assertSchemaCurrent(committed: string, printed: string): void {
  if (committed !== printed) {
    throw new Error('schema.graphql is stale: run `npm run schema:print` and commit the result.');
  }
}

describe('schema.graphql', () => {
  it('is the printed, sorted SDL of the Pothos schema', () => {
    expect(() => assertSchemaCurrent(readFileSync(schemaFile, 'utf8'), printSortedSchema())).not.toThrow();
  });

  it('fails, naming npm run schema:print, when it is stale', () => {
    const printed = printSortedSchema();
    const stale = printed.replace('revokeOtherSessions: Int!', 'revokeOtherSessions: Boolean!');
    expect(stale).not.toBe(printed);
    expect(() => assertSchemaCurrent(stale, printed)).toThrow('`npm run schema:print`');
  });

  it('contains the public contract: queries, mutations, DateTime and TokenDelivery', () => {
    const printed = printSortedSchema();
    for (const line of [
      'me: User!',
      'mySessions: [Session!]!',
      'signUp(delivery: TokenDelivery = BODY, deviceName: String, email: String!, password: String!): AuthPayload!',
      'login(delivery: TokenDelivery = BODY, deviceName: String, email: String!, password: String!): AuthPayload!',
      'refresh(refreshToken: String): AuthPayload!',
      'logout(refreshToken: String): Boolean!',
      'revokeDevice(sessionId: ID!): Boolean!',
      'revokeOtherSessions: Int!',
      'scalar DateTime',
      'enum TokenDelivery {',
    ]) {
      expect(printed).toContain(line);
    }
  });
});
