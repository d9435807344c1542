import { builder } from '../../graphql/builder.js';
import { errorTypes as E } from '../../graphql/errors.js';
import type { UserStats, UserStatsDay } from './service.js';
import { DEFAULT_RANGE_DAYS, MAX_RANGE_DAYS } from './service.js';

const ActiveUsersRef = builder.objectRef<UserStats['active']>('ActiveUsers').implement({
  description: 'Distinct users who signed in or refreshed a session in the last days of the range: each user counts once however often it was active.',
  fields: (t) => ({
    daily: t.exposeInt('daily', { description: 'Active on the last day of the range.' }),
    weekly: t.exposeInt('weekly', { description: 'Active in the last 7 days of the range (those before `from` count too when the range is shorter).' }),
    monthly: t.exposeInt('monthly', { description: 'Active in the last 30 days of the range (those before `from` count too when the range is shorter).' }),
  }),
});

const UserStatsDayRef = builder.objectRef<UserStatsDay>('UserStatsDay').implement({
  description: 'One UTC day of the range.',
  fields: (t) => ({
    date: t.expose('date', { type: 'Date' }),
    created: t.exposeInt('created', { description: 'Users created that day (also those deleted since).' }),
    deleted: t.exposeInt('deleted', { description: 'Users deleted that day.' }),
    active: t.exposeInt('active', { description: 'Users who signed in or refreshed a session that day, each once.' }),
  }),
});

const UserStatsRef = builder.objectRef<UserStats>('UserStats').implement({
  description:
    'User statistics over a range of UTC days. The figures are history: a deleted user still counts as created on its day and as active on the days it was; `total` and `deleted` say how many are gone.',
  fields: (t) => ({
    from: t.expose('from', { type: 'Date', description: 'The first day of the range (inclusive).' }),
    to: t.expose('to', { type: 'Date', description: 'The day after the range (exclusive).' }),
    total: t.exposeInt('total', { description: 'Users at the end of the range: created before `to` and not deleted before it (with the default range, the users now).' }),
    created: t.exposeInt('created', { description: 'Users created in the range.' }),
    deleted: t.exposeInt('deleted', { description: 'Users deleted in the range.' }),
    active: t.field({ type: ActiveUsersRef, resolve: (s) => s.active }),
    byDay: t.field({ type: [UserStatsDayRef], description: 'Every day of the range, oldest first, days without activity included.', resolve: (s) => s.byDay }),
  }),
});

builder.queryFields((t) => ({
  userStats: t.field({
    type: UserStatsRef,
    authScopes: { admin: 'users:read' },
    description:
      `Users in all, created and active, per UTC day from \`from\` (inclusive) to \`to\` (exclusive). Default: the last ${DEFAULT_RANGE_DAYS} days including today (to: tomorrow; from: ${DEFAULT_RANGE_DAYS} days before to). ` +
      `A user is active on a day when it signs in or refreshes a session; counting started with the gateway version that brought userStats. At most ${MAX_RANGE_DAYS} days: a longer range, or a to not after from, is InvalidInputError. API keys only.`,
    errors: { types: [E.InvalidInputError] },
    args: {
      from: t.arg({ type: 'Date', description: 'The first day (UTC) of the range, inclusive.' }),
      to: t.arg({ type: 'Date', description: 'The day (UTC) after the range: exclusive.' }),
    },
    resolve: (_root, args, ctx) => ctx.services.statistics.userStats({ from: args.from, to: args.to }),
  }),
}));
