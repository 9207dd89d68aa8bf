import { valueFromASTUntyped } from 'graphql';
import { builder } from '../builder.js';

/** Any JSON value: WebAuthn's option and response objects, which we pass through as the browser API shapes them. */
builder.scalarType('JSON', {
  description: 'Any JSON value (an object, array, string, number, boolean or null).',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables ?? undefined),
});
