import { builder } from '../../graphql/builder.js';
import type { SchemaTypes } from '../../graphql/helpers.js';
import { errorTypes as E } from '../../graphql/errors.js';
import { RoleRef, rolesByIds } from './role-type.schema.js';

builder.prismaNode('OrganizationDomain', {
  description: 'An email domain of an organization. Verified and with autoJoin, users whose email at the domain becomes verified join the organization.',
  id: { field: 'id' },
  // A node that no longer exists resolves to null, not an error.
  nullable: true,
  fields: (t) => ({
    organization: t.relation('organization'),
    domain: t.exposeString('domain', { description: 'Lower-case, without a trailing dot.' }),
    verified: t.boolean({ select: { verifiedAt: true }, resolve: (d) => d.verifiedAt !== null }),
    verifiedAt: t.expose('verifiedAt', { type: 'DateTime', nullable: true }),
    autoJoin: t.exposeBoolean('autoJoin', { description: 'Users whose email at this (verified) domain becomes verified join the organization.' }),
    roles: t.field({
      type: [RoleRef],
      description: 'The ORGANIZATION roles given to members who join by this domain; empty: the default ones.',
      select: { roleIds: true },
      resolve: (d, _args, ctx) => rolesByIds(ctx, d.roleIds),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.prismaObjectField('Organization', 'domains', (t) =>
  t.relation('domains', { authScopes: { admin: 'organizations:read' }, description: 'Its email domains, by name; API keys only.', query: { orderBy: [{ domain: 'asc' }] } }),
);

const affectedDomain = <Parent extends { domainId: string }>(t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, Parent>) =>
  t.prismaField({
    type: 'OrganizationDomain',
    resolve: (query, parent, _args, ctx) => ctx.db.organizationDomain.findUniqueOrThrow({ ...query, where: { id: parent.domainId } }),
  });
const domainSuccess = (name: string, description: string) =>
  builder.objectRef<{ domainId: string }>(name).implement({ description, fields: (t) => ({ domain: affectedDomain(t) }) });
const idInput = (name: string) => builder.inputType(name, { fields: (t) => ({ id: t.id({ required: true, description: 'The domain (dom_…).' }) }) });

builder.mutationFields((t) => ({
  addOrganizationDomain: t.field({
    type: domainSuccess('AddOrganizationDomainSuccess', 'The domain was added, unverified.'),
    authScopes: { admin: 'organizations:manage' },
    description: 'Adds an email domain to an organization, unverified (verifyOrganizationDomain). Records organization.domain_added.',
    errors: { types: [E.NotFoundError, E.InvalidInputError, E.OrganizationRoleRequiredError, E.AlreadyExistsError] },
    args: {
      input: t.arg({
        type: builder.inputType('AddOrganizationDomainInput', {
          fields: (f) => ({
            organizationId: f.id({ required: true }),
            domain: f.string({ required: true, description: 'e.g. example.com' }),
            autoJoin: f.boolean({ description: 'Once verified, users whose email at the domain becomes verified join (default false).' }),
            roleIds: f.idList({ description: 'ORGANIZATION roles of members who join by the domain; empty or absent: the default ones at join time.' }),
          }),
        }),
        required: true,
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      const d = await ctx.services.organizationDomains.addDomain(
        { organizationId: String(input.organizationId), domain: input.domain, autoJoin: input.autoJoin, roleIds: input.roleIds?.map(String) },
        ctx.meta,
      );
      return { domainId: d.id };
    },
  }),
  verifyOrganizationDomain: t.field({
    type: domainSuccess('VerifyOrganizationDomainSuccess', 'The domain is verified.'),
    authScopes: { admin: 'organizations:manage' },
    description:
      "Verifies a domain: without userId on the API key's word; with userId by proof of control, a member of the organization whose verified email is at the domain. Records organization.domain_verified.",
    errors: { types: [E.NotFoundError, E.UserNotFoundError, E.EmailNotVerifiedError, E.InvalidInputError, E.InvalidStateError] },
    args: {
      input: t.arg({
        type: builder.inputType('VerifyOrganizationDomainInput', {
          fields: (f) => ({
            id: f.id({ required: true, description: 'The domain (dom_…).' }),
            userId: f.id({ description: 'A member whose verified email is at the domain: the proof. Absent: verified on your word.' }),
          }),
        }),
        required: true,
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      domainId: (await ctx.services.organizationDomains.verifyDomain({ id: String(input.id), userId: input.userId == null ? null : String(input.userId) }, ctx.meta)).id,
    }),
  }),
  updateOrganizationDomain: t.field({
    type: domainSuccess('UpdateOrganizationDomainSuccess', 'The domain was updated.'),
    authScopes: { admin: 'organizations:manage' },
    description: 'Changes autoJoin or the roles of a domain; fields left out are unchanged. Records organization.updated (changes domain.autoJoin, domain.roleIds).',
    errors: { types: [E.NotFoundError, E.OrganizationRoleRequiredError] },
    args: {
      input: t.arg({
        type: builder.inputType('UpdateOrganizationDomainInput', {
          fields: (f) => ({
            id: f.id({ required: true }),
            autoJoin: f.boolean(),
            roleIds: f.idList({ description: 'ORGANIZATION roles of members who join by the domain; empty: the default ones.' }),
          }),
        }),
        required: true,
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      domainId: (await ctx.services.organizationDomains.updateDomain({ id: String(input.id), autoJoin: input.autoJoin, roleIds: input.roleIds?.map(String) }, ctx.meta)).id,
    }),
  }),
  removeOrganizationDomain: t.field({
    type: builder.objectRef<{ id: string }>('RemoveOrganizationDomainSuccess').implement({
      description: 'The domain is gone; members who joined by it stay.',
      fields: (f) => ({ removedDomainId: f.exposeID('id') }),
    }),
    authScopes: { admin: 'organizations:manage' },
    description: 'Removes a domain (members who joined by it stay). Records organization.domain_removed.',
    errors: { types: [E.NotFoundError] },
    args: { input: t.arg({ type: idInput('RemoveOrganizationDomainInput'), required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.organizationDomains.removeDomain(String(input.id), ctx.meta),
  }),
}));
