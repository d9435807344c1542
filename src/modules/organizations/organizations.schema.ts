import { builder } from '../../graphql/builder.js';
import { permissionLoader } from '../../graphql/context.js';
import { adminOrThisUser, affectedUser, type SchemaTypes } from '../../graphql/helpers.js';
import { errorTypes as E } from '../../graphql/errors.js';
import { UserRef } from '../users/schema.js';
import { LIMITS, MetadataModeEnum, MetadataPartEnum } from '../users/metadata.schema.js';
import { RoleRef } from './role-type.schema.js';
// Invitations and domains: their types, their Organization fields and their operations.
import './invitations.schema.js';
import './domains.schema.js';

const read = { admin: 'organizations:read' } as const;
const manage = { admin: 'organizations:manage' } as const;

export const MemberFilter = builder.inputType('OrganizationMemberFilter', {
  description: 'Every field given must match (AND).',
  fields: (t) => ({
    roleKey: t.string({ description: 'Members holding the ORGANIZATION role with this key.' }),
    query: t.string({ description: "Text matched against the member's email, username and names (case-insensitive)." }),
  }),
});

export const OrganizationRef = builder.prismaNode('Organization', {
  description: 'A tenant: users are its members, with ORGANIZATION roles.',
  id: { field: 'id' },
  // A node that no longer exists resolves to null, not an error.
  nullable: true,
  fields: (t) => ({
    name: t.exposeString('name'),
    slug: t.exposeString('slug', { description: 'Lower-case letters, digits and dashes; unique.' }),
    publicMetadata: t.expose('publicMetadata', { type: 'JSON', description: 'A JSON object of your own that members may read (updateOrganizationMetadata has the limits).' }),
    privateMetadata: t.expose('privateMetadata', { type: 'JSON', authScopes: read, description: 'A JSON object of your own; API keys only.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    members: t.relatedConnection('memberships', {
      cursor: 'id',
      totalCount: true,
      authScopes: read,
      description: 'The members, oldest first; API keys only.',
      args: { filter: t.arg({ type: MemberFilter }) },
      query: (args, ctx) => ({ where: ctx.services.organizations.memberWhere(args.filter), orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
    }),
  }),
});

export const MembershipRef = builder.prismaNode('Membership', {
  description: 'A user in an organization, with the ORGANIZATION roles it holds there.',
  id: { field: 'id' },
  // A node that no longer exists resolves to null, not an error.
  nullable: true,
  fields: (t) => ({
    organization: t.relation('organization'),
    user: t.relation('user'),
    roles: t.field({
      type: [RoleRef],
      description: 'Its ORGANIZATION roles, by key.',
      // Through the join table, merged into the membership's own query.
      select: (_args, _ctx, nestedSelection) => ({ roles: { select: { role: nestedSelection(true) }, orderBy: { role: { key: 'asc' } } } }),
      resolve: (m) => m.roles.map((r) => r.role),
    }),
    permissions: t.stringList({
      description: 'The permission keys its roles hold here, sorted (as effectivePermissions). A page of members reads them in one query.',
      select: { userId: true, organizationId: true },
      resolve: (m, _args, ctx) => ctx.services.access.effectivePermissions(m.userId, m.organizationId, permissionLoader(ctx)),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the user joined.' }),
  }),
});

builder.prismaObjectField(UserRef, 'memberships', (t) =>
  t.relation('memberships', {
    description: "The organizations the user is a member of, oldest membership first: API keys, or the user with their own access token.",
    authScopes: adminOrThisUser('organizations:read'),
    query: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] },
  }),
);

const OrganizationFilter = builder.inputType('OrganizationFilter', {
  description: 'Every field given must match (AND).',
  fields: (t) => ({
    query: t.string({ description: 'Text matched against the name and the slug (case-insensitive).' }),
    userId: t.id({ description: 'Organizations this user is a member of.' }),
  }),
});

builder.queryFields((t) => ({
  organization: t.prismaField({
    type: 'Organization',
    nullable: true,
    authScopes: read,
    description: 'An organization by id; null when there is none.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => ctx.db.organization.findUnique({ ...query, where: { id: String(args.id) } }),
  }),
  organizationBySlug: t.prismaField({
    type: 'Organization',
    nullable: true,
    authScopes: read,
    description: 'An organization by slug; null when there is none.',
    args: { slug: t.arg.string({ required: true }) },
    resolve: (query, _root, args, ctx) => ctx.db.organization.findUnique({ ...query, where: { slug: args.slug.trim().toLowerCase() } }),
  }),
  organizations: t.prismaConnection({
    type: 'Organization',
    cursor: 'id',
    authScopes: read,
    description: 'Organizations, oldest first; a Relay connection.',
    args: { filter: t.arg({ type: OrganizationFilter }) },
    resolve: (query, _root, args, ctx) => ctx.services.organizations.listOrganizations(query, toFilter(args.filter)),
    totalCount: (_conn, args, ctx) => ctx.services.organizations.countOrganizations(toFilter(args.filter)),
  }),
}));

const toFilter = (filter: { query?: string | null; userId?: string | number | null } | null | undefined) =>
  filter ? { query: filter.query, userId: filter.userId == null ? null : String(filter.userId) } : null;

const metadataFields = (t: PothosSchemaTypes.InputFieldBuilder<SchemaTypes, 'InputObject'>) => ({
  publicMetadata: t.field({ type: 'JSON', description: `A JSON object that members may read; replaces the stored one. ${LIMITS}` }),
  privateMetadata: t.field({ type: 'JSON', description: 'A JSON object for API keys only; replaces the stored one.' }),
});

const UpdateOrganizationMetadataInput = builder.inputType('UpdateOrganizationMetadataInput', {
  description: 'Parts left out (or null) stay as they are.',
  fields: (t) => ({
    organizationId: t.id({ required: true, description: 'The organization (org_…).' }),
    public: t.field({ type: 'JSON', description: 'Changes publicMetadata.' }),
    private: t.field({ type: 'JSON', description: 'Changes privateMetadata.' }),
    mode: t.field({ type: MetadataModeEnum, defaultValue: 'MERGE' }),
  }),
});

const CreateOrganizationInput = builder.inputType('CreateOrganizationInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: '1 to 200 characters.' }),
    slug: t.string({ description: '2 to 64 lower-case letters, digits and dashes, unique; derived from the name when absent ("Acme Corp." → acme-corp).' }),
    ...metadataFields(t),
  }),
});
const UpdateOrganizationInput = builder.inputType('UpdateOrganizationInput', {
  description: 'Fields left out are unchanged; metadata given replaces the stored object.',
  fields: (t) => ({ id: t.id({ required: true }), name: t.string(), slug: t.string(), ...metadataFields(t) }),
});
const OrganizationIdInput = (name: string) => builder.inputType(name, { fields: (t) => ({ id: t.id({ required: true, description: 'The organization (org_…).' }) }) });
const MemberInput = (name: string, roles: 'optional' | 'required' | 'none') =>
  builder.inputType(name, {
    fields: (t) => ({
      organizationId: t.id({ required: true }),
      userId: t.id({ required: true }),
      ...(roles === 'none'
        ? {}
        : {
            roleIds: t.idList({
              required: roles === 'required',
              description: roles === 'required' ? 'The ORGANIZATION roles the member holds from now on.' : 'ORGANIZATION roles; absent: the default ones (isDefault).',
            }),
          }),
    }),
  });

/** The affected organization of a success payload, re-read with the caller's selection. */
const affectedOrganization = <Parent extends { organizationId: string }>(t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, Parent>) =>
  t.prismaField({
    type: 'Organization',
    resolve: (query, parent, _args, ctx) => ctx.db.organization.findUniqueOrThrow({ ...query, where: { id: parent.organizationId } }),
  });

/** The affected membership of a success payload, re-read with the caller's selection. */
export const affectedMembership = <Parent extends { membershipId: string }>(t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, Parent>) =>
  t.prismaField({
    type: 'Membership',
    resolve: (query, parent, _args, ctx) => ctx.db.membership.findUniqueOrThrow({ ...query, where: { id: parent.membershipId } }),
  });

const organizationSuccess = (name: string, description: string) =>
  builder.objectRef<{ organizationId: string }>(name).implement({ description, fields: (t) => ({ organization: affectedOrganization(t) }) });
const membershipSuccess = (name: string, description: string) =>
  builder.objectRef<{ membershipId: string }>(name).implement({ description, fields: (t) => ({ membership: affectedMembership(t) }) });

const roleIdsOf = (ids: ReadonlyArray<string | number> | null | undefined) => (ids == null ? ids : ids.map(String));

builder.mutationFields((t) => ({
  createOrganization: t.field({
    type: organizationSuccess('CreateOrganizationSuccess', 'The organization was created.'),
    authScopes: manage,
    description: 'Creates an organization. Records organization.created.',
    errors: { types: [E.InvalidInputError, E.AlreadyExistsError] },
    args: { input: t.arg({ type: CreateOrganizationInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ organizationId: (await ctx.services.organizations.createOrganization(input, ctx.meta)).id }),
  }),
  updateOrganization: t.field({
    type: organizationSuccess('UpdateOrganizationSuccess', 'The organization was updated.'),
    authScopes: manage,
    description: 'Changes the name, slug or metadata (metadata given replaces the stored object). Records organization.updated.',
    errors: { types: [E.NotFoundError, E.InvalidInputError, E.AlreadyExistsError] },
    args: { input: t.arg({ type: UpdateOrganizationInput, required: true }) },
    resolve: async (_root, { input: { id, ...patch } }, ctx) => ({ organizationId: (await ctx.services.organizations.updateOrganization(String(id), patch, ctx.meta)).id }),
  }),
  updateOrganizationMetadata: t.field({
    type: builder.objectRef<{ organizationId: string; changed: Array<'public' | 'private'> }>('UpdateOrganizationMetadataSuccess').implement({
      description: 'The metadata is as asked.',
      fields: (f) => ({
        organization: affectedOrganization(f),
        changed: f.field({ type: [MetadataPartEnum], description: 'The parts whose value changed (empty: nothing changed, and nothing was recorded).', resolve: (p) => p.changed }),
      }),
    }),
    authScopes: manage,
    description:
      "Changes an organization's metadata by the rules of updateUserMetadata: each part given is merged (MERGE, the default: RFC 7396 JSON merge patch, null deletes a key) or replaced (REPLACE). " +
      `${LIMITS} A part that is not an object, nests too deep, or makes the whole too large is InvalidInputError naming it (public or private). ` +
      'Concurrent merges all land. Records organization.updated with the changed columns.',
    errors: { types: [E.NotFoundError, E.InvalidInputError] },
    args: { input: t.arg({ type: UpdateOrganizationMetadataInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.organizations.updateOrganizationMetadata({ ...input, organizationId: String(input.organizationId) }, ctx.meta),
  }),
  deleteOrganization: t.field({
    type: builder.objectRef<{ id: string }>('DeleteOrganizationSuccess').implement({
      description: 'The organization is gone, with its memberships, invitations and domains.',
      fields: (f) => ({ deletedOrganizationId: f.exposeID('id') }),
    }),
    authScopes: manage,
    description: 'Deletes an organization with its memberships, invitations and domains. Records organization.deleted.',
    errors: { types: [E.NotFoundError] },
    args: { input: t.arg({ type: OrganizationIdInput('DeleteOrganizationInput'), required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.organizations.deleteOrganization(String(input.id), ctx.meta),
  }),
  addOrganizationMember: t.field({
    type: membershipSuccess('AddOrganizationMemberSuccess', 'The user is a member.'),
    authScopes: manage,
    description: 'Makes a user a member with ORGANIZATION roles (absent: the default ones). Records organization.member_added.',
    errors: { types: [E.NotFoundError, E.UserNotFoundError, E.OrganizationRoleRequiredError, E.AlreadyExistsError] },
    args: { input: t.arg({ type: MemberInput('AddOrganizationMemberInput', 'optional'), required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.organizations.addMember(
        { organizationId: String(input.organizationId), userId: String(input.userId), roleIds: roleIdsOf((input as { roleIds?: string[] | null }).roleIds) },
        ctx.meta,
      ),
  }),
  updateOrganizationMemberRoles: t.field({
    type: membershipSuccess('UpdateOrganizationMemberRolesSuccess', "The member's roles are the ones given."),
    authScopes: manage,
    description: "Replaces a member's ORGANIZATION roles; the last member holding the owner permission keeps it (LastOwnerError). Records organization.member_roles_updated when they change.",
    errors: { types: [E.NotFoundError, E.OrganizationRoleRequiredError, E.LastOwnerError] },
    args: { input: t.arg({ type: MemberInput('UpdateOrganizationMemberRolesInput', 'required'), required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.organizations.updateMemberRoles(
        { organizationId: String(input.organizationId), userId: String(input.userId), roleIds: roleIdsOf((input as { roleIds: string[] }).roleIds) ?? [] },
        ctx.meta,
      ),
  }),
  removeOrganizationMember: t.field({
    type: builder.objectRef<{ organizationId: string; userId: string }>('RemoveOrganizationMemberSuccess').implement({
      description: 'The user is no longer a member.',
      fields: (f) => ({ organization: affectedOrganization(f), user: affectedUser(f) }),
    }),
    authScopes: manage,
    description: 'Removes a member; never the last one holding the owner permission (LastOwnerError). Records organization.member_removed.',
    errors: { types: [E.NotFoundError, E.LastOwnerError] },
    args: { input: t.arg({ type: MemberInput('RemoveOrganizationMemberInput', 'none'), required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.organizations.removeMember({ organizationId: String(input.organizationId), userId: String(input.userId) }, ctx.meta),
  }),
}));
