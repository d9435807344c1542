import { graphqlEventName, wireEventType } from '../catalog.js';
import { builder } from '../../graphql/builder.js';
import type { SchemaTypes } from '../../graphql/helpers.js';
import { errorTypes as E } from '../../graphql/errors.js';
import { UserEventTypeEnum } from '../events/schema.js';
import { LINK_SECONDS, MAX_LINK_APPS, SESSION_SECONDS } from './portal.js';
import { deliveryFilterWhere, deliveryStatuses, type DeliveryStatus } from './store.js';

const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  description: 'Where a delivery is: waiting for an attempt (PENDING), delivered (SUCCEEDED), or given up after its last attempt (FAILED).',
  values: deliveryStatuses,
});

const WebhookDeliveryFilter = builder.inputType('WebhookDeliveryFilter', {
  description: 'Each field given must match; a list matches any of its values.',
  fields: (t) => ({
    status: t.field({ type: [WebhookDeliveryStatusEnum] }),
    eventTypes: t.field({ type: [UserEventTypeEnum] }),
  }),
});

export const WebhookAttemptRef = builder.prismaObject('WebhookAttempt', {
  description: 'One HTTP attempt of a delivery.',
  fields: (t) => ({
    id: t.exposeID('id'),
    attemptedAt: t.expose('attemptedAt', { type: 'DateTime' }),
    responseStatus: t.exposeInt('statusCode', { nullable: true, description: 'The HTTP status; null when no response came (timeout, refused).' }),
    latencyMs: t.exposeInt('latencyMs', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

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
    app: t.relation('app', { description: 'The app this delivery goes to.' }),
    attemptLog: t.relation('attemptLog', { description: 'Every attempt, oldest first.', query: { orderBy: [{ attemptedAt: 'asc' }, { id: 'asc' }] } }),
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
    deliveries: t.relatedConnection('deliveries', {
      cursor: 'id',
      totalCount: true,
      description: 'Its deliveries, newest first; filter by status and event type (totalCount counts the filtered ones).',
      args: { filter: t.arg({ type: WebhookDeliveryFilter }) },
      query: ({ filter }) => ({
        where: deliveryFilterWhere({ status: filter?.status as DeliveryStatus[] | null, eventTypes: toWire(filter?.eventTypes as string[] | null) }),
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      }),
    }),
  }),
});

builder.queryFields((t) => ({
  webhookApp: t.prismaField({
    type: 'WebhookApp',
    nullable: true,
    authScopes: { admin: 'webhooks:manage' },
    description: 'A webhook app by id; null when there is none.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => ctx.db.webhookApp.findUnique({ ...query, where: { id: String(args.id) } }),
  }),
  webhookApps: t.prismaConnection({
    type: 'WebhookApp',
    cursor: 'id',
    authScopes: { admin: 'webhooks:manage' },
    description: 'The configured webhook apps.',
    resolve: (query, _root, _args, ctx) => ctx.db.webhookApp.findMany({ ...query, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
  }),
}));

const toWire = (types: readonly string[] | null | undefined) => (types ? types.map((t) => wireEventType(t)) : types);

const CreateWebhookAppInput = builder.inputType('CreateWebhookAppInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Who receives it, for people (1 to 200 characters).' }),
    url: t.string({ required: true, description: 'http(s) URL; private, loopback and link-local addresses are refused unless PORTCULLIS_WEBHOOK_ALLOW_PRIVATE=true.' }),
    eventTypes: t.field({ type: [UserEventTypeEnum], description: 'The types to deliver; empty or absent means all.' }),
  }),
});
const UpdateWebhookAppInput = builder.inputType('UpdateWebhookAppInput', {
  description: 'Fields left out are unchanged.',
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string(),
    url: t.string(),
    eventTypes: t.field({ type: [UserEventTypeEnum], description: 'The types to deliver; empty means all.' }),
    enabled: t.boolean({ description: 'false pauses deliveries (they stay queued); true resumes them and clears disabledReason.' }),
  }),
});
const idInput = (name: string, description?: string) =>
  builder.inputType(name, { description, fields: (t) => ({ id: t.id({ required: true }) }) });

/** The affected app of a success payload, re-read with the caller's selection. */
const affectedApp = <Parent extends { appId: string }>(t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, Parent>) =>
  t.prismaField({
    type: 'WebhookApp',
    resolve: (query, parent, _args, ctx) => ctx.db.webhookApp.findUniqueOrThrow({ ...query, where: { id: parent.appId } }),
  });

const webhookAppSuccess = (name: string, description: string) =>
  builder.objectRef<{ appId: string }>(name).implement({
    description,
    fields: (t) => ({
      webhookApp: affectedApp(t),
    }),
  });

const secretSuccess = (name: string, description: string) =>
  builder.objectRef<{ appId: string; secret: string }>(name).implement({
    description,
    fields: (t) => ({
      webhookApp: affectedApp(t),
      secret: t.exposeString('secret', { description: 'The signing secret (whsec_…). Shown only now: store it.' }),
    }),
  });

const deliverySuccess = (name: string, description: string) =>
  builder.objectRef<{ deliveryId: string; appId: string }>(name).implement({
    description,
    fields: (t) => ({
      delivery: t.prismaField({
        type: 'WebhookDelivery',
        resolve: (query, parent, _args, ctx) => ctx.db.webhookDelivery.findUniqueOrThrow({ ...query, where: { id: parent.deliveryId } }),
      }),
      webhookApp: affectedApp(t),
    }),
  });

const RotateSuccess = builder.objectRef<{ appId: string; secret: string; previousSecretExpiresAt: Date | null }>('RotateWebhookAppSecretSuccess').implement({
  description: 'A new secret signs deliveries; the previous one also signs them until previousSecretExpiresAt.',
  fields: (t) => ({
    webhookApp: affectedApp(t),
    secret: t.exposeString('secret', { description: 'The new signing secret (whsec_…). Shown only now: store it.' }),
    previousSecretExpiresAt: t.expose('previousSecretExpiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'Until then deliveries carry two signatures, one per secret; null when the grace period is 0.',
    }),
  }),
});

const CreateWebhookPortalLinkInput = builder.inputType('CreateWebhookPortalLinkInput', {
  fields: (t) => ({
    webhookAppIds: t.idList({ required: true, description: `The apps the link's holder sees and acts on (1 to ${MAX_LINK_APPS}); nothing else.` }),
    expiresInSeconds: t.int({
      description: `How long the link can be opened: ${LINK_SECONDS.min} to ${LINK_SECONDS.max} seconds (default ${LINK_SECONDS.default}).`,
    }),
  }),
});

const CreateWebhookPortalLinkSuccess = builder.objectRef<{ url: string; expiresAt: Date; appIds: string[] }>('CreateWebhookPortalLinkSuccess').implement({
  description: 'A link to the webhook portal. Its URL holds a secret token: hand it to its holder only; it is not shown again.',
  fields: (t) => ({
    url: t.exposeString('url', { description: 'Opens the portal once (then it is used), before expiresAt. Starts with PORTCULLIS_PUBLIC_URL.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'After this the link opens nothing; a session it opened lasts on.' }),
    webhookApps: t.prismaField({
      type: ['WebhookApp'],
      description: 'The apps the link opens.',
      resolve: (query, parent, _args, ctx) => ctx.db.webhookApp.findMany({ ...query, where: { id: { in: parent.appIds } }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
    }),
  }),
});

builder.mutationFields((t) => ({
  createWebhookPortalLink: t.field({
    type: CreateWebhookPortalLinkSuccess,
    authScopes: { admin: 'webhooks:manage' },
    description:
      `A temporary link to the webhook portal, a page the gateway serves (like Clerk's Svix dashboard URL), for these apps: there its holder sees their endpoints and recent deliveries, retries a delivery, sends a test event and rotates the secret. ` +
      `The link opens once: the first visit exchanges its token for a session of ${SESSION_SECONDS / 60} minutes; a second visit, or one after expiresAt, opens nothing.`,
    errors: { types: [E.InvalidInputError] },
    args: { input: t.arg({ type: CreateWebhookPortalLinkInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.webhookPortal.createLink({ webhookAppIds: input.webhookAppIds.map(String), expiresInSeconds: input.expiresInSeconds }, ctx.meta),
  }),
  createWebhookApp: t.field({
    type: secretSuccess('CreateWebhookAppSuccess', 'The app was created; its secret is shown once.'),
    authScopes: { admin: 'webhooks:manage' },
    description: 'Registers an endpoint for signed event deliveries (Standard Webhooks). Returns the signing secret once.',
    errors: { types: [E.InvalidInputError] },
    args: { input: t.arg({ type: CreateWebhookAppInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { app, secret } = await ctx.services.webhooks.createWebhookApp({ name: input.name, url: input.url, eventTypes: toWire(input.eventTypes as string[] | null) }, ctx.meta);
      return { appId: app.id, secret };
    },
  }),
  updateWebhookApp: t.field({
    type: webhookAppSuccess('UpdateWebhookAppSuccess', 'The app was updated.'),
    authScopes: { admin: 'webhooks:manage' },
    description: 'Changes an app: name, URL (checked again), event types, or enabled (re-enabling resumes its queued deliveries).',
    errors: { types: [E.NotFoundError, E.InvalidInputError] },
    args: { input: t.arg({ type: UpdateWebhookAppInput, required: true }) },
    resolve: async (_root, { input: { id, ...patch } }, ctx) => {
      const app = await ctx.services.webhooks.updateWebhookApp(String(id), { ...patch, eventTypes: toWire(patch.eventTypes as string[] | null) }, ctx.meta);
      return { appId: app.id };
    },
  }),
  deleteWebhookApp: t.field({
    type: builder.objectRef<{ id: string }>('DeleteWebhookAppSuccess').implement({
      description: 'The app and its deliveries are gone.',
      fields: (f) => ({ deletedWebhookAppId: f.exposeID('id') }),
    }),
    authScopes: { admin: 'webhooks:manage' },
    description: 'Deletes an app with its queued and past deliveries.',
    errors: { types: [E.NotFoundError] },
    args: { input: t.arg({ type: idInput('DeleteWebhookAppInput'), required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.webhooks.deleteWebhookApp(String(input.id), ctx.meta),
  }),
  rotateWebhookAppSecret: t.field({
    type: RotateSuccess,
    authScopes: { admin: 'webhooks:manage' },
    description: 'Replaces the signing secret. The old one stays valid for PORTCULLIS_WEBHOOK_SECRET_GRACE_SECONDS: meanwhile every delivery carries both signatures.',
    errors: { types: [E.NotFoundError, E.InvalidStateError] },
    args: { input: t.arg({ type: idInput('RotateWebhookAppSecretInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const rotated = await ctx.services.webhooks.rotateWebhookAppSecret(String(input.id), ctx.meta);
      return { appId: rotated.app.id, secret: rotated.secret, previousSecretExpiresAt: rotated.previousSecretExpiresAt };
    },
  }),
  testWebhookApp: t.field({
    type: deliverySuccess('TestWebhookAppSuccess', 'A webhook.test delivery was queued to be sent now.'),
    authScopes: { admin: 'webhooks:manage' },
    description: 'Sends a webhook.test event to this app now; follow it in delivery (and WebhookApp.deliveries).',
    errors: { types: [E.NotFoundError, E.InvalidStateError] },
    args: { input: t.arg({ type: idInput('TestWebhookAppInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { app, delivery } = await ctx.services.webhooks.testWebhookApp(String(input.id), ctx.meta);
      return { appId: app.id, deliveryId: delivery.id };
    },
  }),
  retryWebhookDelivery: t.field({
    type: deliverySuccess('RetryWebhookDeliverySuccess', 'The delivery is queued for one more attempt now.'),
    authScopes: { admin: 'webhooks:manage' },
    description: 'Retries one delivery by hand (a failed one gets one more attempt).',
    errors: { types: [E.NotFoundError] },
    args: { input: t.arg({ type: idInput('RetryWebhookDeliveryInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const delivery = await ctx.services.webhooks.retryWebhookDelivery(String(input.id));
      return { deliveryId: delivery.id, appId: delivery.appId };
    },
  }),
}));
