import type { WebhookDelivery, WebhookEndpoint } from '../../webhooks/endpoints.js';
import { builder } from '../builder.js';

type EndpointWithSecret = WebhookEndpoint & { readonly secret: string };

const endpointDescription = 'Where webhooks are POSTed, signed per the Standard Webhooks specification.';

export const WebhookEndpointRef = builder.objectRef<WebhookEndpoint>('WebhookEndpoint').implement({
  description: endpointDescription,
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    events: t.exposeStringList('events', { description: 'The event types it receives.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const WebhookEndpointWithSecretRef = builder.objectRef<EndpointWithSecret>('WebhookEndpointWithSecret').implement({
  description: `${endpointDescription} As created: with its signing secret, shown this once.`,
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    events: t.exposeStringList('events'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    secret: t.exposeString('secret', {
      description: 'The signing secret (whsec_…) to verify webhook-signature with; it cannot be read again.',
    }),
  }),
});

const WebhookDeliveryStatusRef = builder.enumType('WebhookDeliveryStatus', {
  values: {
    PENDING: { description: 'Not delivered yet; retried with backoff.' },
    DELIVERED: { description: 'The endpoint answered 2xx.' },
    FAILED: { description: 'Given up after a day of retries (redeliverWebhook queues it again).' },
  } as const,
});

const WebhookDeliveryRef = builder.objectRef<WebhookDelivery>('WebhookDelivery').implement({
  description: 'One event to one endpoint: the outbox row and how its delivery went.',
  fields: (t) => ({
    id: t.exposeID('id'),
    endpointId: t.exposeID('endpointId'),
    eventId: t.exposeString('eventId', { description: 'The webhook-id header: the same for every attempt.' }),
    type: t.exposeString('type'),
    payload: t.string({ description: 'The JSON body as sent.', resolve: (delivery) => JSON.stringify(delivery.payload) }),
    status: t.field({ type: WebhookDeliveryStatusRef, resolve: (delivery) => delivery.status }),
    attempts: t.exposeInt('attempts'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true, description: 'While pending.' }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    failedAt: t.expose('failedAt', { type: 'DateTime', nullable: true }),
    lastStatus: t.exposeInt('lastStatus', { nullable: true, description: "The last attempt's HTTP status; null: no response." }),
    lastError: t.exposeString('lastError', { nullable: true }),
  }),
});

builder.queryFields((t) => ({
  webhookEndpoints: t.withAuth({ admin: true }).field({
    type: [WebhookEndpointRef],
    description: 'Admins only: every webhook endpoint, oldest first.',
    resolve: (_root, _args, ctx) => ctx.auth.webhooks.list(),
  }),
  webhookDeliveries: t.withAuth({ admin: true }).field({
    type: [WebhookDeliveryRef],
    description: "Admins only: an endpoint's newest deliveries (first: 1 to 100).",
    args: { endpointId: t.arg.id({ required: true }), first: t.arg.int({ defaultValue: 20 }) },
    resolve: (_root, args, ctx) => ctx.auth.webhooks.deliveries(String(args.endpointId), args.first ?? 20),
  }),
}));

builder.mutationFields((t) => ({
  createWebhookEndpoint: t.withAuth({ admin: true }).field({
    type: WebhookEndpointWithSecretRef,
    description:
      'Admins only: an endpoint receiving these event types. The URL must be http(s) and resolve to public addresses ' +
      'only (unless WEBHOOK_ALLOW_PRIVATE=true): BAD_USER_INPUT (field url) otherwise; unknown types: BAD_USER_INPUT (field events).',
    args: { url: t.arg.string({ required: true }), events: t.arg.stringList({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const { endpoint, secret } = await ctx.auth.webhooks.create(ctx.viewer.userId, args);
      return { ...endpoint, secret };
    },
  }),
  deleteWebhookEndpoint: t.withAuth({ admin: true }).boolean({
    description: 'Admins only: deletes an endpoint and its deliveries (pending ones are not sent). NOT_FOUND if there is none.',
    args: { endpointId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.auth.webhooks.delete(String(args.endpointId)),
  }),
  redeliverWebhook: t.withAuth({ admin: true }).field({
    type: WebhookDeliveryRef,
    description: 'Admins only: queues a delivery again (same webhook-id), retried for another day. NOT_FOUND if there is none.',
    args: { deliveryId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.auth.webhooks.redeliver(String(args.deliveryId)),
  }),
}));
