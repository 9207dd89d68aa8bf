import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PendingEnds } from './auth/pending-ends.js';
import type { RevocationSet } from './auth/revocations.js';
import type { Config } from './config.js';
import type { RevocationBus } from './events/revocation-bus.js';
import type { RevocationStream } from './feed/revocation-stream.js';
import type { Metrics } from './metrics/metrics.js';
import { createMetricsServer, metricsHandler } from './metrics/metrics-endpoint.js';
import type { RouteHandler } from './transport/http.js';

/** Part of the composition root (app.ts): where /metrics is served, and what the gauges read. */

/**
 * The bus as the session store uses it: each end committed by this instance counted once, by reason.
 * (Pending ends deliver locally through the bus itself: they are counted when their end commits.)
 */
export function countingEnds(bus: RevocationBus, metrics: Metrics): RevocationBus {
  const counting = Object.create(bus) as RevocationBus;
  Object.defineProperty(counting, 'deliverLocally', {
    value: (events: Parameters<RevocationBus['deliverLocally']>[0]) => {
      metrics.revoked(events);
      bus.deliverLocally(events);
    },
  });
  return counting;
}

export function watchState(
  metrics: Metrics,
  parts: { revocations: RevocationSet; pendingEnds: PendingEnds; ws: { readonly socketCount: number }; revocationStream: RevocationStream },
): void {
  metrics.watch({
    revocationSetSize: () => parts.revocations.size,
    synchronised: () => parts.revocations.synchronised,
    liveSubscribers: () => ({ ws: parts.ws.socketCount, sse: parts.revocationStream.clientCount }),
    oldestPendingEnd: () => parts.pendingEnds.oldestSince,
  });
}

/**
 * GET /metrics: on METRICS_PORT when set (its own listener; the main port then answers 404), else
 * on the main port when METRICS_TOKEN is set, else nowhere. The token is required wherever it is set.
 */
export function metricsExposure(config: Config, metrics: Metrics) {
  const { token, port } = config.metrics;
  const handle = metricsHandler(metrics.registry, token);
  const own = port === undefined ? undefined : createMetricsServer(handle);
  const onMainPort = port === undefined && token !== undefined;
  return {
    /** Chained before `next` on the main port. */
    route:
      (next: RouteHandler): RouteHandler =>
      (req: IncomingMessage, res: ServerResponse) =>
        (onMainPort && handle(req, res)) || next(req, res),
    /** Listens on METRICS_PORT if set; returns its base URL. */
    async start(host: string): Promise<string | undefined> {
      if (!own || port === undefined) return undefined;
      const address = await own.listen(port, host);
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${shown === '0.0.0.0' ? 'localhost' : shown}:${address.port}`;
    },
    stop: () => own?.close() ?? Promise.resolve(),
  };
}
