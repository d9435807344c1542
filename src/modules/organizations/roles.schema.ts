import { builder } from '../../graphql/builder.js';
import { errorTypes as E } from '../../graphql/errors.js';
import { adminOrThisUser, affectedUser, type SchemaTypes } from '../../graphql/helpers.js';
// User.roles extends the users module's type: its schema must be built first.
import '../users/schema.js';

export const RoleScopeEnum = builder.enumType('RoleScope', {
  description: 'Where a role applies.',
  values: {
    GLOBAL: { description: 'Given to users (assignUserRoles), across the whole gateway.' },
    ORGANIZATION: { description: 'Given to members of an organization, within it.' },
  } as const,
});

export const PermissionRef = builder.prismaNode('Permission', {
  description: 'Something a role allows, named by a key such as invoice:read. Your applications decide what each key means.',
  id: { field: 'id' },
  // A node that no longer exists resolves to null, not an error.
  nullable: true,
  fields: (t) => ({
    key: t.exposeString('key', { description: 'Lower-case letters, digits, _ - . and : (1 to 100 characters), unique.' }),
    description: t.exposeString('description', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const RoleRef = builder.prismaNode('Role', {
  description: 'A named set of permissions. GLOBAL roles are given to users, ORGANIZATION roles to organization members.',
  id: { field: 'id' },
  // A node that no longer exists resolves to null, not an error.
  nullable: true,
  fields: (t) => ({
    key: t.exposeString('key', { description: 'Lower-case letters, digits, _ - . and : (1 to 64 characters), unique within its scope. Fixed once created.' }),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    scope: t.field({ type: RoleScopeEnum, description: 'Fixed once created.', select: { scope: true }, resolve: (r) => r.scope as 'GLOBAL' | 'ORGANIZATION' }),
    isDefault: t.exposeBoolean('isDefault', {
      description: 'GLOBAL: given to every new user. ORGANIZATION: given to every new member added without roles.',
    }),
    permissions: t.field({
      type: [PermissionRef],
      description: 'Its permissions, by key.',
      // Through the RolePermission join rows, with the caller's selection of Permission merged in.
      select: (_args, _ctx, nestedSelection) => ({
        permissions: { select: { permission: nestedSelection(true) }, orderBy: { permission: { key: 'asc' } } },
      }),
      resolve: (role) => role.permissions.map((p) => p.permission),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.prismaObjectField('User', 'roles', (t) =>
  t.field({
    type: [RoleRef],
    description: "The user's GLOBAL roles, by key. API keys, or the user itself (me).",
    authScopes: adminOrThisUser('organizations:read'),
    select: (_args, _ctx, nestedSelection) => ({
      roles: { where: { role: { scope: 'GLOBAL' } }, select: { role: nestedSelection(true) }, orderBy: { role: { key: 'asc' } } },
    }),
    resolve: (user) => user.roles.map((r) => r.role),
  }),
);

builder.queryFields((t) => ({
  permissions: t.prismaConnection({
    type: 'Permission',
    cursor: 'id',
    authScopes: { admin: 'organizations:read' },
    description: 'Every permission, by key.',
    totalCount: (_conn, _args, ctx) => ctx.db.permission.count(),
    resolve: (query, _root, _args, ctx) => ctx.db.permission.findMany({ ...query, orderBy: [{ key: 'asc' }, { id: 'asc' }] }),
  }),
  roles: t.prismaConnection({
    type: 'Role',
    cursor: 'id',
    authScopes: { admin: 'organizations:read' },
    description: 'Roles by key (GLOBAL before ORGANIZATION on equal keys); scope narrows them to one scope.',
    args: { scope: t.arg({ type: RoleScopeEnum }) },
    totalCount: (_conn, args, ctx) => ctx.db.role.count({ where: args.scope ? { scope: args.scope } : {} }),
    resolve: (query, _root, args, ctx) =>
      ctx.db.role.findMany({ ...query, where: args.scope ? { scope: args.scope } : {}, orderBy: [{ key: 'asc' }, { scope: 'asc' }, { id: 'asc' }] }),
  }),
  role: t.prismaField({
    type: 'Role',
    nullable: true,
    authScopes: { admin: 'organizations:read' },
    description: 'A role by id; null when there is none.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => ctx.db.role.findUnique({ ...query, where: { id: String(args.id) } }),
  }),
}));

// ── Results ──

const affectedRole = <Parent extends { roleId: string }>(t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, Parent>) =>
  t.prismaField({
    type: 'Role',
    resolve: (query, parent, _args, ctx) => ctx.db.role.findUniqueOrThrow({ ...query, where: { id: parent.roleId } }),
  });

const roleSuccess = (name: string, description: string) =>
  builder.objectRef<{ roleId: string }>(name).implement({ description, fields: (t) => ({ role: affectedRole(t) }) });

const CreatePermissionSuccess = builder.objectRef<{ permissionId: string }>('CreatePermissionSuccess').implement({
  description: 'The permission was created.',
  fields: (t) => ({
    permission: t.prismaField({
      type: 'Permission',
      resolve: (query, parent, _args, ctx) => ctx.db.permission.findUniqueOrThrow({ ...query, where: { id: parent.permissionId } }),
    }),
  }),
});

const SetRolePermissionsSuccess = builder.objectRef<{ roleId: string; added: string[]; removed: string[] }>('SetRolePermissionsSuccess').implement({
  description: 'The role holds exactly the permissions given.',
  fields: (t) => ({
    role: affectedRole(t),
    added: t.exposeStringList('added', { description: 'Keys of the permissions added, sorted.' }),
    removed: t.exposeStringList('removed', { description: 'Keys of the permissions removed, sorted.' }),
  }),
});

const userRolesSuccess = (name: string, description: string, field: 'added' | 'removed', fieldDescription: string) =>
  builder.objectRef<{ userId: string; added: string[]; removed: string[] }>(name).implement({
    description,
    fields: (t) => ({
      user: affectedUser(t),
      [field]: t.exposeStringList(field, { description: fieldDescription }),
    }),
  });

const deletedSuccess = (name: string, description: string, field: string) =>
  builder.objectRef<{ id: string }>(name).implement({ description, fields: (t) => ({ [field]: t.exposeID('id') }) });

// ── Inputs ──

const idInput = (name: string) => builder.inputType(name, { fields: (t) => ({ id: t.id({ required: true }) }) });

const CreatePermissionInput = builder.inputType('CreatePermissionInput', {
  fields: (t) => ({
    key: t.string({ required: true, description: 'Lower-case letters, digits, _ - . and : (1 to 100 characters), e.g. invoice:read; trimmed.' }),
    description: t.string({ description: 'For people; at most 1000 characters.' }),
  }),
});

const CreateRoleInput = builder.inputType('CreateRoleInput', {
  fields: (t) => ({
    key: t.string({ required: true, description: 'Lower-case letters, digits, _ - . and : (1 to 64 characters), e.g. billing-admin; trimmed. Unique within the scope; fixed once created.' }),
    name: t.string({ required: true, description: 'For people (1 to 200 characters).' }),
    description: t.string({ description: 'For people; at most 1000 characters.' }),
    scope: t.field({ type: RoleScopeEnum, required: true, description: 'Fixed once created.' }),
    permissionIds: t.idList({ description: 'Its permissions (prm_…).' }),
    isDefault: t.boolean({ description: 'GLOBAL: given to every new user. ORGANIZATION: given to every new member added without roles. Default false.' }),
  }),
});

const UpdateRoleInput = builder.inputType('UpdateRoleInput', {
  description: 'Fields left out are unchanged. The key and the scope of a role never change: create another role instead.',
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string({ description: '1 to 200 characters; cannot be null.' }),
    description: t.string({ description: 'At most 1000 characters; null or empty clears it.' }),
    isDefault: t.boolean({ description: 'Applies to users and members added from now on; those who exist keep their roles.' }),
  }),
});

const SetRolePermissionsInput = builder.inputType('SetRolePermissionsInput', {
  fields: (t) => ({
    roleId: t.id({ required: true }),
    permissionIds: t.idList({ required: true, description: 'The whole new set (prm_…); empty removes every permission.' }),
  }),
});

const userRolesInput = (name: string, description: string) =>
  builder.inputType(name, {
    fields: (t) => ({
      userId: t.id({ required: true, description: 'The user to act on.' }),
      roleIds: t.idList({ required: true, description }),
    }),
  });

// ── Mutations ──

builder.mutationFields((t) => ({
  createPermission: t.field({
    type: CreatePermissionSuccess,
    authScopes: { admin: 'organizations:manage' },
    description: 'Creates a permission. Records permission.created.',
    errors: { types: [E.InvalidInputError, E.AlreadyExistsError] },
    args: { input: t.arg({ type: CreatePermissionInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ permissionId: (await ctx.services.roles.createPermission(input, ctx.meta)).id }),
  }),
  deletePermission: t.field({
    type: deletedSuccess('DeletePermissionSuccess', 'The permission is gone.', 'deletedPermissionId'),
    authScopes: { admin: 'organizations:manage' },
    description:
      'Deletes a permission that no role holds; while a role holds it the answer is PermissionInUseError (take it out with setRolePermissions first). The check and the delete are one step: a role that gains the permission meanwhile either makes this PermissionInUseError or fails itself with NotFoundError. Records permission.deleted.',
    errors: { types: [E.NotFoundError, E.PermissionInUseError] },
    args: { input: t.arg({ type: idInput('DeletePermissionInput'), required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.roles.deletePermission(String(input.id), ctx.meta),
  }),
  createRole: t.field({
    type: roleSuccess('CreateRoleSuccess', 'The role was created.'),
    authScopes: { admin: 'organizations:manage' },
    description: 'Creates a role with its permissions. Its key and scope are fixed once created. Records role.created.',
    errors: { types: [E.InvalidInputError, E.AlreadyExistsError, E.NotFoundError] },
    args: { input: t.arg({ type: CreateRoleInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ roleId: (await ctx.services.roles.createRole(input, ctx.meta)).id }),
  }),
  updateRole: t.field({
    type: roleSuccess('UpdateRoleSuccess', 'The role as it is now.'),
    authScopes: { admin: 'organizations:manage' },
    description:
      'Changes the name, description or isDefault of a role; its key and scope cannot change. Records role.updated with the fields that changed (nothing changed: no event).',
    errors: { types: [E.NotFoundError, E.InvalidInputError] },
    args: { input: t.arg({ type: UpdateRoleInput, required: true }) },
    resolve: async (_root, { input: { id, ...patch } }, ctx) => ({ roleId: (await ctx.services.roles.updateRole(String(id), patch, ctx.meta)).id }),
  }),
  deleteRole: t.field({
    type: deletedSuccess('DeleteRoleSuccess', 'The role is gone.', 'deletedRoleId'),
    authScopes: { admin: 'organizations:manage' },
    description:
      'Deletes a role that no user or member holds; otherwise the answer is RoleInUseError with how many hold it (take it from them first). The check and the delete are one step: an assignment made meanwhile either makes this RoleInUseError or fails itself with NotFoundError. Its permissions stay. Records role.deleted.',
    errors: { types: [E.NotFoundError, E.RoleInUseError] },
    args: { input: t.arg({ type: idInput('DeleteRoleInput'), required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.roles.deleteRole(String(input.id), ctx.meta),
  }),
  setRolePermissions: t.field({
    type: SetRolePermissionsSuccess,
    authScopes: { admin: 'organizations:manage' },
    description:
      'Replaces the permissions of a role with exactly permissionIds; an unknown id changes nothing (NotFoundError). Taking the owner permission from an ORGANIZATION role is refused while the members holding it in some organization hold it only through this role (LastOwnerError). Records role.permissions_updated with the keys added and removed (nothing changed: no event).',
    errors: { types: [E.NotFoundError, E.InvalidInputError, E.LastOwnerError] },
    args: { input: t.arg({ type: SetRolePermissionsInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { role, added, removed } = await ctx.services.roles.setRolePermissions(String(input.roleId), input.permissionIds, ctx.meta);
      return { roleId: role.id, added, removed };
    },
  }),
  assignUserRoles: t.field({
    type: userRolesSuccess('AssignUserRolesSuccess', 'The user holds the roles.', 'added', 'Keys of the roles the user did not hold before, sorted.'),
    authScopes: { admin: 'organizations:manage' },
    description:
      'Gives GLOBAL roles to a user. Roles held already are not an error and change nothing. An unknown id (NotFoundError) or an ORGANIZATION role (RoleScopeMismatchError) refuses the whole input. Records user.roles_updated when something was added.',
    errors: { types: [E.UserNotFoundError, E.NotFoundError, E.RoleScopeMismatchError, E.InvalidInputError] },
    args: { input: t.arg({ type: userRolesInput('AssignUserRolesInput', 'GLOBAL roles (rol_…).'), required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.roles.assignUserRoles(String(input.userId), input.roleIds, ctx.meta),
  }),
  removeUserRoles: t.field({
    type: userRolesSuccess('RemoveUserRolesSuccess', 'The user no longer holds the roles.', 'removed', 'Keys of the roles the user held and lost, sorted.'),
    authScopes: { admin: 'organizations:manage' },
    description:
      'Takes GLOBAL roles from a user. Roles not held are not an error and change nothing. An unknown id (NotFoundError) or an ORGANIZATION role (RoleScopeMismatchError) refuses the whole input. Records user.roles_updated when something was removed.',
    errors: { types: [E.UserNotFoundError, E.NotFoundError, E.RoleScopeMismatchError, E.InvalidInputError] },
    args: { input: t.arg({ type: userRolesInput('RemoveUserRolesInput', 'GLOBAL roles (rol_…).'), required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.roles.removeUserRoles(String(input.userId), input.roleIds, ctx.meta),
  }),
}));
