import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from '../builder.js';
import './date-time.js';
import './user.js';
import './session.js';
import './auth.js';
import './session-revoked.js';
import './auth-event.js';
import './email.js';
import './json.js';
import './passkey.js';
import './security.js';
import './admin.js';
import './webhook.js';

builder.queryType({});

let schema: GraphQLSchema | undefined;

/** The executable schema, built on first use (the types above register with the builder). */
export function buildSchema(): GraphQLSchema {
  schema ??= builder.toSchema();
  return schema;
}

/** The SDL committed as schema.graphql: sorted so that its diff shows only real changes. */
export function printSortedSchema(): string {
  return printSchema(lexicographicSortSchema(buildSchema())) + '\n';
}
