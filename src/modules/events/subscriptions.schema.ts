import { GraphQLError } from 'graphql';
import { wireEventType, type EventType } from '../catalog.js';
import { SubscriptionOverflow, type StreamItem } from '../../kernel/events/streams.js';
import { InvalidInputError } from '../../kernel/errors.js';
import { closing } from '../../kernel/async-iterators.js';
import { builder } from '../../graphql/builder.js';
import type { NeededScope } from '../access-tokens/scopes.js';
import type { Context } from '../../graphql/context.js';
import { UserEventRef, UserEventTypeEnum } from './schema.js';
import { STATE_EVENTS } from '../users/events.js';

builder.subscriptionType({ description: 'Live streams over WebSocket (graphql-ws) or Server-Sent Events, on /graphql.' });

/**
 * Who may follow a user's stream: admins, and the user themselves with an
 * access token (scope-auth grants a field when any listed scope passes). A
 * stream outlives the token that opened it, so it re-checks its caller and
 * ends when the session or key is revoked (server/subscription-guard.ts).
 */
const streamScopes = (userId: string, scope: NeededScope) => ({ admin: scope, self: { userId, scope } });

/**
 * Marks a stream of immutable events whose result depends only on the event,
 * the arguments and the caller: the server executes each event once per
 * group of subscribers with the same operation and caller (server/subscription-fanout.ts).
 */
const sharedPerEvent = { sharedPerEvent: true };

/** Ends a subscription whose buffer overflowed with an error the client can act on. */
function overflowError(item: SubscriptionOverflow): GraphQLError {
  return new GraphQLError(
    `Subscription closed: this subscriber fell more than ${item.bufferSize} events behind. Subscribe again with after: ${item.lastEventId ? `"${item.lastEventId}"` : 'your last cursor'} to resume without a gap.`,
    { extensions: { code: 'SUBSCRIPTION_OVERFLOW', resumeAfter: item.lastEventId } },
  );
}

/** The type filter and the resume cursor of an event stream's arguments; an unknown cursor is refused. */
async function streamOptions(args: { types?: readonly string[] | null; after?: string | null }, ctx: Context) {
  const types = (args.types ?? []).map((t) => wireEventType(t)) as EventType[];
  if (!args.after) return { types };
  const afterSeq = await ctx.services.events.seqOf(String(args.after));
  if (afterSeq === undefined) {
    const problem = new InvalidInputError('after', 'No event has this id (it may have been removed by retention).');
    throw new GraphQLError(problem.message, { extensions: { code: problem.code, field: 'after' } });
  }
  return { types, afterSeq, afterId: String(args.after) };
}

/** An event stream's resolve: the event, or the overflow error. */
function eventOrOverflow(item: StreamItem) {
  if (item instanceof SubscriptionOverflow) throw overflowError(item);
  return item as never;
}

/** Ends after an overflow marker (the resolver turns the marker into the error). */
const untilOverflow = (source: AsyncIterableIterator<StreamItem>) => closing(source, { isLast: (item) => item instanceof SubscriptionOverflow });
/** Ends the state stream after the deletion (there is nothing left to change), or an overflow. */
const untilDeleted = (source: AsyncIterableIterator<StreamItem>) =>
  closing(source, { isLast: (item) => item instanceof SubscriptionOverflow || item.type === 'user.deleted' });

builder.subscriptionFields((t) => ({
  userEvents: t.field({
    type: UserEventRef,
    authScopes: (_root, args) => streamScopes(String(args.userId), 'events:read'),
    description:
      "A user's events. With `after` (an event id: the cursor), first the stored events after it, then live ones, in order, without gap or duplicate; without it, live events only. A subscriber that falls `PORTCULLIS_SUBSCRIPTION_BUFFER` events behind is ended with the error SUBSCRIPTION_OVERFLOW, whose `resumeAfter` extension is the cursor to resubscribe with.",
    args: {
      userId: t.arg.id({ required: true }),
      types: t.arg({ type: [UserEventTypeEnum], description: 'Only these types; empty or absent means all.' }),
      after: t.arg.id({ description: 'Resume after this event id (exclusive).' }),
    },
    subscribe: async (_root, args, ctx) =>
      untilOverflow(ctx.services.events.userEvents({ userId: String(args.userId), ...(await streamOptions(args, ctx)) })),
    resolve: eventOrOverflow,
    extensions: sharedPerEvent,
  }),
  organizationEvents: t.field({
    type: UserEventRef,
    authScopes: { admin: 'events:read' },
    description:
      "An organization's events (those recorded with its `organizationId`, such as organization.* including membership and invitation changes), for management callers (API keys). The same contract as `userEvents`: with `after` (an event id: the cursor), first the stored events after it, then live ones, in order, without gap or duplicate; without it, live events only; a subscriber that falls `PORTCULLIS_SUBSCRIPTION_BUFFER` events behind is ended with the error SUBSCRIPTION_OVERFLOW, whose `resumeAfter` extension is the cursor to resubscribe with. The organization is not looked up: an unknown id yields no event and no error.",
    args: {
      organizationId: t.arg.id({ required: true }),
      types: t.arg({ type: [UserEventTypeEnum], description: 'Only these types; empty or absent means all.' }),
      after: t.arg.id({ description: 'Resume after this event id (exclusive).' }),
    },
    subscribe: async (_root, args, ctx) =>
      untilOverflow(ctx.services.events.organizationEvents({ organizationId: String(args.organizationId), ...(await streamOptions(args, ctx)) })),
    resolve: eventOrOverflow,
    extensions: sharedPerEvent,
  }),
  userStateChanged: t.prismaField({
    type: 'User',
    nullable: true,
    authScopes: (_root, args) => streamScopes(String(args.userId), 'users:read'),
    description:
      'The user each time its state changes (locked, unlocked, deactivated, reactivated). When the user is deleted the stream sends null once and ends: a deleted user is gone from every query, and its user.deleted event stays in the log (see userEvents).',
    args: { userId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => untilDeleted(ctx.services.events.userEvents({ userId: String(args.userId), types: STATE_EVENTS })),
    resolve: (query, item, _args, ctx) => {
      if (item instanceof SubscriptionOverflow) throw overflowError(item);
      const event = item as Exclude<StreamItem, SubscriptionOverflow>;
      if (event.type === 'user.deleted' || !event.userId) return null;
      return ctx.db.user.findUnique({ ...query, where: { id: event.userId } });
    },
    extensions: sharedPerEvent,
  }),
}));
