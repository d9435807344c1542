/**
 * Permission checks over GraphQL, shaped like a relationship check
 * (subject, permission, object). Checks asked in one operation are batched
 * (graphql/context.ts permissionLoader).
 */
import { builder } from '../../graphql/builder.js';
import { permissionLoader } from '../../graphql/context.js';

/** The permission that lets a signed-in member check what other members of its organization may do. */
export const MEMBERS_READ_PERMISSION = 'organization:members:read';

/** API keys; the user itself; and, inside an organization, its members holding organization:members:read. */
const checkScopes = (userId: string, organizationId: string | null | undefined) => ({
  admin: 'organizations:read' as const,
  self: { userId, scope: 'organizations:read' as const },
  ...(organizationId ? { permission: { key: MEMBERS_READ_PERMISSION, organizationId, scope: 'organizations:read' as const } } : {}),
});

const CanInput = builder.inputType('CanInput', {
  description: 'A check: may this user (the subject) use this permission on this organization (the object; absent: globally)?',
  fields: (t) => ({
    userId: t.id({ required: true }),
    permission: t.string({ required: true, description: 'A permission key, e.g. invoice:read.' }),
    organizationId: t.id({ description: "The organization to check in: its member's ORGANIZATION roles count. Absent: the user's GLOBAL roles count." }),
  }),
});

builder.queryFields((t) => ({
  can: t.boolean({
    authScopes: (_root, args) => checkScopes(String(args.input.userId), args.input.organizationId ? String(args.input.organizationId) : null),
    description:
      "Whether the user holds the permission: in the organization through its membership's ORGANIZATION roles, or without organizationId through its GLOBAL roles (a global role grants nothing inside an organization, and the reverse). False for unknown users, organizations and permissions. API keys; a user about itself with its access token; inside an organization, a member holding organization:members:read about any user.",
    args: { input: t.arg({ type: CanInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.access.can({ userId: String(input.userId), permission: input.permission, organizationId: input.organizationId ? String(input.organizationId) : null }, permissionLoader(ctx)),
  }),
  effectivePermissions: t.stringList({
    authScopes: (_root, args) => checkScopes(String(args.userId), args.organizationId ? String(args.organizationId) : null),
    description:
      'The permission keys the user holds in the organization (through its ORGANIZATION roles) or, without organizationId, globally (through its GLOBAL roles), sorted. Empty for a user who is not a member. API keys; a user about itself with its access token; inside an organization, a member holding organization:members:read about any user.',
    args: { userId: t.arg.id({ required: true }), organizationId: t.arg.id() },
    resolve: (_root, args, ctx) => ctx.services.access.effectivePermissions(String(args.userId), args.organizationId ? String(args.organizationId) : null, permissionLoader(ctx)),
  }),
}));
