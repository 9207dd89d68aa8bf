import { createCounter, createHistogram, usePrometheus, type FillLabelsFnParams } from '@graphql-yoga/plugin-prometheus';
import { Kind, type DocumentNode, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import { AuthError } from '../errors.js';

/** Seconds; most operations answer in milliseconds, a login's password hash takes a few tens. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Per-operation figures through yoga's Prometheus plugin, for HTTP, SSE and graphql-ws alike (all go
 * through yoga's envelop). The `operation` label is the operation's first root field (`login`,
 * `refresh`, `me`): bounded by our schema, unlike the operation name the client chooses.
 */
export function useGraphqlMetrics(registry: Registry): Plugin {
  const operation = (params: FillLabelsFnParams) => ({
    operation: rootField(params.document, params.operationName) ?? 'unknown',
    type: params.operationType ?? 'unknown',
  });
  return usePrometheus({
    registry,
    // Served by src/metrics/metrics-endpoint.ts, which checks METRICS_TOKEN; never by the plugin.
    endpoint: false,
    skipIntrospection: true,
    metrics: {
      graphql_envelop_request: createCounter({
        registry,
        counter: { name: 'tidepass_graphql_requests_total', help: 'GraphQL operations executed, by operation.', labelNames: ['operation', 'type'] },
        fillLabelsFn: operation,
      }),
      graphql_envelop_request_duration: createHistogram({
        registry,
        histogram: {
          name: 'tidepass_graphql_request_duration_seconds',
          help: 'Time to execute a GraphQL operation (parse to result), by operation.',
          labelNames: ['operation', 'type'],
          buckets: DURATION_BUCKETS,
        },
        fillLabelsFn: operation,
      }),
      graphql_envelop_error_result: createCounter({
        registry,
        counter: {
          name: 'tidepass_graphql_errors_total',
          help: 'Errors in GraphQL results, by operation, error code (errors.ts) and phase.',
          labelNames: ['operation', 'type', 'code', 'phase'],
        },
        fillLabelsFn: (params) => {
          const phase = params.errorPhase ?? 'execute';
          // A document that did not parse or validate may name any field: no label from it.
          const labels = phase === 'parse' || phase === 'validate' ? { operation: 'invalid', type: params.operationType ?? 'unknown' } : operation(params);
          return { ...labels, code: codeOf(params.error), phase };
        },
      }),
      graphql_yoga_http_duration: false,
    },
  });
}

function rootField(document: DocumentNode | undefined, operationName: string | undefined): string | undefined {
  const operations = (document?.definitions ?? []).filter((definition) => definition.kind === Kind.OPERATION_DEFINITION);
  // The plugin names an unnamed operation 'Anonymous'; a document of one operation needs no name.
  const operation = operations.find((definition) => definition.name?.value === operationName) ?? operations[0];
  const [first] = operation?.selectionSet.selections ?? [];
  return first?.kind === Kind.FIELD ? first.name.value : undefined;
}

/** The code the client gets: an AuthError's (masking, later, turns it into `extensions.code`), else the error's own. */
function codeOf(error: GraphQLError | undefined): string {
  const original = error?.originalError;
  if (original instanceof AuthError) return original.code;
  const code = error?.extensions?.['code'] ?? (original as { extensions?: Record<string, unknown> } | undefined)?.extensions?.['code'];
  return typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR';
}
