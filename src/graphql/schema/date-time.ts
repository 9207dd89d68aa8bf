import { GraphQLError, Kind } from 'graphql';
import { builder } from '../builder.js';

function parseDate(value: unknown): Date {
  const date = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 string.');
  return date;
}

builder.scalarType('DateTime', {
  description: 'An ISO-8601 date and time in UTC, e.g. 2026-11-22T18:30:00.000Z.',
  serialize: (value) => value.toISOString(),
  parseValue: parseDate,
  parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : undefined),
});
