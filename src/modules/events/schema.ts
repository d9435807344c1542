import { eventTypes, graphqlEventName, wireEventType } from '../catalog.js';
import { builder } from '../../graphql/builder.js';

export const UserEventTypeEnum = builder.enumType('UserEventType', {
  description: 'Event types; on the wire (webhooks) the same names are dotted lower case: USER_LOCKED is user.locked.',
  values: Object.fromEntries(eventTypes.map((t) => [graphqlEventName(t), { value: graphqlEventName(t), description: t }])),
});

/** The `where` for a list of GraphQL event type names. */
export function eventTypeWhere(types: readonly string[] | null | undefined) {
  return types?.length ? { type: { in: types.map((t) => wireEventType(t)) } } : {};
}

const Actor = builder.objectRef<{ type: string; id: string | null }>('EventActor').implement({
  description: 'Who caused the event: an API key, a user, the system, the CLI, or the holder of a webhook portal link (webhook_portal, with the link id).',
  fields: (t) => ({ type: t.exposeString('type'), id: t.exposeString('id', { nullable: true }) }),
});

// Fields read the row's own scalars (always loaded) without `select`: subscriptions resolve
// rows the relay already read, and a per-field select would re-load each one per subscriber.
export const UserEventRef = builder.prismaNode('Event', {
  name: 'UserEvent',
  description: 'A recorded change. The id is also a cursor to resume from.',
  id: { field: 'id' },
  // A node that no longer exists resolves to null, not an error.
  nullable: true,
  fields: (t) => ({
    type: t.field({ type: UserEventTypeEnum, resolve: (e) => graphqlEventName(e.type as never) }),
    userId: t.exposeString('userId', { nullable: true }),
    organizationId: t.exposeString('organizationId', {
      nullable: true,
      description: 'The organization the event is about (organization events; see organizationEvents), or null.',
    }),
    user: t.prismaField({
      type: 'User',
      nullable: true,
      description: 'Null once the user is deleted.',
      resolve: (query, e, _args, ctx) => (e.userId ? ctx.db.user.findUnique({ ...query, where: { id: e.userId } }) : null),
    }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
    data: t.expose('data', { type: 'JSON' }),
    actor: t.field({ type: Actor, resolve: (e) => ({ type: e.actorType ?? 'system', id: e.actorId }) }),
    ip: t.exposeString('ip', { nullable: true }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    traceId: t.exposeString('traceId', {
      nullable: true,
      description: 'The W3C trace id of the request that caused the event, when the gateway exports traces (OTEL_EXPORTER_OTLP_ENDPOINT): find its spans by it.',
    }),
  }),
});

builder.queryFields((t) => ({
  events: t.prismaConnection({
    type: 'Event',
    cursor: 'id',
    authScopes: { admin: 'events:read' },
    description: 'The event log, oldest first; filter by user, organization and types (each given must match).',
    args: {
      userId: t.arg.id(),
      organizationId: t.arg.id({ description: "An organization's events (what organizationEvents streams)." }),
      types: t.arg({ type: [UserEventTypeEnum] }),
    },
    resolve: (query, _root, args, ctx) =>
      ctx.db.event.findMany({
        ...query,
        where: {
          ...(args.userId ? { userId: String(args.userId) } : {}),
          ...(args.organizationId ? { organizationId: String(args.organizationId) } : {}),
          ...eventTypeWhere(args.types as string[] | null),
        },
        orderBy: { seq: 'asc' },
      }),
  }),
}));
