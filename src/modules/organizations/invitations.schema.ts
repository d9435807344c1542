import { builder } from '../../graphql/builder.js';
import { selfViewer, type SchemaTypes } from '../../graphql/helpers.js';
import { errorTypes as E } from '../../graphql/errors.js';
import type { Prisma } from '../../kernel/db/client.js';
import { RoleRef, rolesByIds } from './role-type.schema.js';

type Status = 'PENDING' | 'ACCEPTED' | 'REVOKED' | 'EXPIRED';

export const InvitationStatusEnum = builder.enumType('InvitationStatus', {
  values: {
    PENDING: { description: 'Waiting to be accepted.' },
    ACCEPTED: { description: 'Accepted: the invitee is a member.' },
    REVOKED: { description: 'Withdrawn by an admin (or never delivered).' },
    EXPIRED: { description: 'Not accepted in time.' },
  } as const,
});

const InvitationDeliveryEnum = builder.enumType('InvitationDelivery', {
  values: {
    SEND: { description: 'The gateway emails the invitation link (PORTCULLIS_INVITATION_LINK_URL); the token is not returned.' },
    RETURN: { description: 'The token (and the link, when PORTCULLIS_INVITATION_LINK_URL is set) is returned once: deliver it yourself.' },
  } as const,
});

/** Overdue pending invitations are EXPIRED, whether or not the expiry chore has marked them yet. */
const statusOf = (inv: { status: string; expiresAt: Date }, now: Date): Status => (inv.status === 'PENDING' && inv.expiresAt <= now ? 'EXPIRED' : (inv.status as Status));

function statusWhere(status: Status, now: Date): Prisma.OrganizationInvitationWhereInput {
  if (status === 'PENDING') return { status: 'PENDING', expiresAt: { gt: now } };
  if (status === 'EXPIRED') return { OR: [{ status: 'EXPIRED' }, { status: 'PENDING', expiresAt: { lte: now } }] };
  return { status };
}

builder.prismaNode('OrganizationInvitation', {
  description: 'An invitation of an email address to join an organization; accepted with its token by a user whose verified email is that address.',
  id: { field: 'id' },
  // A node that no longer exists resolves to null, not an error.
  nullable: true,
  fields: (t) => ({
    organization: t.relation('organization'),
    email: t.exposeString('email', { description: 'The invitee, lower-cased.' }),
    roles: t.field({
      type: [RoleRef],
      description: 'The ORGANIZATION roles given on acceptance (roles deleted since are left out).',
      select: { roleIds: true },
      resolve: (inv, _args, ctx) => rolesByIds(ctx, inv.roleIds),
    }),
    status: t.field({
      type: InvitationStatusEnum,
      select: { status: true, expiresAt: true },
      resolve: (inv, _args, ctx) => statusOf(inv, ctx.services.clock.now()),
    }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    acceptedAt: t.expose('acceptedAt', { type: 'DateTime', nullable: true }),
    acceptedUser: t.prismaField({
      type: 'User',
      nullable: true,
      description: 'Who accepted it; null until then, or when that user was deleted.',
      select: { acceptedUserId: true },
      resolve: (query, inv, _args, ctx) => (inv.acceptedUserId ? ctx.db.user.findUnique({ ...query, where: { id: inv.acceptedUserId } }) : null),
    }),
  }),
});

builder.prismaObjectField('Organization', 'invitations', (t) =>
  t.relation('invitations', {
    authScopes: { admin: 'organizations:read' },
    description: 'Its invitations, newest first; API keys only.',
    args: { status: t.arg({ type: InvitationStatusEnum, description: 'Only those in this status.' }) },
    query: (args, ctx) => ({ where: args.status ? statusWhere(args.status, ctx.services.clock.now()) : {}, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] }),
  }),
);

const affectedInvitation = <Parent extends { invitationId: string }>(t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, Parent>) =>
  t.prismaField({
    type: 'OrganizationInvitation',
    resolve: (query, parent, _args, ctx) => ctx.db.organizationInvitation.findUniqueOrThrow({ ...query, where: { id: parent.invitationId } }),
  });

const CreateInvitationInput = builder.inputType('CreateOrganizationInvitationInput', {
  fields: (t) => ({
    organizationId: t.id({ required: true }),
    email: t.string({ required: true, description: 'The invitee; only a user whose verified email is this address can accept.' }),
    roleIds: t.idList({ description: 'ORGANIZATION roles given on acceptance; absent: the default ones.' }),
    expiresInSeconds: t.int({ description: 'Lifetime of the invitation, from 60 s to 30 days (2592000); default 7 days.' }),
    delivery: t.field({ type: InvitationDeliveryEnum, required: true }),
  }),
});

builder.mutationFields((t) => ({
  createOrganizationInvitation: t.field({
    type: builder.objectRef<{ invitationId: string; token: string | null; link: string | null }>('CreateOrganizationInvitationSuccess').implement({
      description: 'The invitation is pending. With delivery RETURN, its token (and link) are shown only now.',
      fields: (f) => ({
        invitation: affectedInvitation(f),
        token: f.exposeString('token', { nullable: true, description: 'With RETURN: the secret that accepts it (acceptOrganizationInvitation). Never shown again; null with SEND.' }),
        link: f.exposeString('link', { nullable: true, description: 'With RETURN and PORTCULLIS_INVITATION_LINK_URL set: the link holding the token. Null otherwise.' }),
      }),
    }),
    authScopes: { admin: 'organizations:manage' },
    description:
      'Invites an email address to an organization. One pending invitation per organization and address (AlreadyExistsError); an expired one is replaced. ' +
      'SEND emails the link, RETURN returns the token. Records organization.invitation_created.',
    errors: { types: [E.NotFoundError, E.InvalidInputError, E.OrganizationRoleRequiredError, E.AlreadyExistsError, E.InvalidStateError, E.DeliveryFailedError] },
    args: { input: t.arg({ type: CreateInvitationInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { invitation, token, link } = await ctx.services.organizationInvitations.createInvitation(
        {
          organizationId: String(input.organizationId),
          email: input.email,
          roleIds: input.roleIds?.map(String),
          expiresInSeconds: input.expiresInSeconds,
          delivery: input.delivery,
        },
        ctx.meta,
      );
      return { invitationId: invitation.id, token, link };
    },
  }),
  acceptOrganizationInvitation: t.field({
    type: builder.objectRef<{ invitationId: string; membershipId: string }>('AcceptOrganizationInvitationSuccess').implement({
      description: 'The signed-in user is a member, with the invitation\'s roles.',
      fields: (f) => ({
        membership: f.prismaField({
          type: 'Membership',
          resolve: (query, parent, _args, ctx) => ctx.db.membership.findUniqueOrThrow({ ...query, where: { id: parent.membershipId } }),
        }),
      }),
    }),
    authScopes: selfViewer('users:write'),
    description:
      "Accepts an invitation with its token, as the signed-in user (access token): the user's verified email must be the invitee's. " +
      'An existing member gets the roles it lacks. Records organization.member_added (or member_roles_updated) and organization.invitation_accepted.',
    errors: {
      types: [E.InvitationNotFoundError, E.InvitationExpiredError, E.InvitationRevokedError, E.InvitationAlreadyAcceptedError, E.EmailNotVerifiedError, E.InvitationEmailMismatchError],
    },
    args: {
      input: t.arg({
        type: builder.inputType('AcceptOrganizationInvitationInput', { fields: (f) => ({ token: f.string({ required: true, description: 'The invitation token.' }) }) }),
        required: true,
      }),
    },
    resolve: (_root, { input }, ctx) => ctx.services.organizationInvitations.acceptInvitation(input.token, ctx.meta),
  }),
  revokeOrganizationInvitation: t.field({
    type: builder.objectRef<{ invitationId: string }>('RevokeOrganizationInvitationSuccess').implement({
      description: 'The invitation is revoked: its token no longer works.',
      fields: (f) => ({ invitation: affectedInvitation(f) }),
    }),
    authScopes: { admin: 'organizations:manage' },
    description: 'Revokes a pending invitation. Records organization.invitation_revoked.',
    errors: { types: [E.NotFoundError, E.InvalidStateError] },
    args: {
      input: t.arg({
        type: builder.inputType('RevokeOrganizationInvitationInput', { fields: (f) => ({ id: f.id({ required: true, description: 'The invitation (inv_…).' }) }) }),
        required: true,
      }),
    },
    resolve: (_root, { input }, ctx) => ctx.services.organizationInvitations.revokeInvitation(String(input.id), ctx.meta),
  }),
}));
