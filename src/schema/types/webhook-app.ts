import { graphqlEventName } from '../../events/catalog.js';
import { builder } from '../builder.js';
import { UserEventTypeEnum } from './event.js';

export const WebhookDeliveryRef = builder.prismaNode('WebhookDelivery', {
  description: 'One event to deliver to one webhook app, with its attempts.',
  id: { field: 'id' },
  // A node that no longer exists resolves to null, not an error.
  nullable: true,
  fields: (t) => ({
    eventId: t.exposeString('eventId'),
    eventType: t.exposeString('eventType', { description: 'The wire type, e.g. user.locked.' }),
    status: t.exposeString('status', { description: 'PENDING, SUCCEEDED or FAILED.' }),
    attempts: t.exposeInt('attempts'),
    responseStatus: t.exposeInt('lastStatusCode', { nullable: true }),
    latencyMs: t.exposeInt('lastLatencyMs', { nullable: true }),
    error: t.exposeString('lastError', { nullable: true }),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

export const WebhookAppRef = builder.prismaNode('WebhookApp', {
  description: 'An endpoint that receives signed event deliveries (Standard Webhooks).',
  id: { field: 'id' },
  // A node that no longer exists resolves to null, not an error.
  nullable: true,
  fields: (t) => ({
    name: t.exposeString('name'),
    url: t.exposeString('url'),
    enabled: t.exposeBoolean('enabled'),
    disabledReason: t.exposeString('disabledReason', { nullable: true }),
    eventTypes: t.field({
      type: [UserEventTypeEnum],
      description: 'The types delivered; empty means all.',
      select: { eventTypes: true },
      resolve: (app) => ((app.eventTypes as string[] | null) ?? []).map((w) => graphqlEventName(w as never)) as never,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    deliveries: t.relatedConnection('deliveries', { cursor: 'id', totalCount: true, query: { orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] } }),
  }),
});

builder.queryFields((t) => ({
  webhookApps: t.prismaConnection({
    type: 'WebhookApp',
    cursor: 'id',
    authScopes: { admin: true },
    description: 'The configured webhook apps.',
    resolve: (query, _root, _args, ctx) => ctx.db.webhookApp.findMany({ ...query, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
  }),
}));
