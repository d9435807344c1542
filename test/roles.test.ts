/**
 * Roles and permissions through the API: every operation, the events each
 * records (and none when nothing changed), default GLOBAL roles given by
 * createUser, the deletion policy (refused while held, also against
 * concurrent assignments), and duplicate keys under concurrency.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../src/kernel/ids.js';
import { graphql } from './gql/index.js';
import type { UserEventType } from './gql/graphql.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { seed } from './helpers/seed.js';

const CreatePermission = graphql(`
  mutation RolesCreatePermission($input: CreatePermissionInput!) {
    createPermission(input: $input) {
      __typename
      ... on CreatePermissionSuccess { permission { id key description createdAt } }
      ... on AlreadyExistsError { field message }
      ... on InvalidInputError { field message }
    }
  }
`);
const DeletePermission = graphql(`
  mutation RolesDeletePermission($input: DeletePermissionInput!) {
    deletePermission(input: $input) {
      __typename
      ... on DeletePermissionSuccess { deletedPermissionId }
      ... on PermissionInUseError { code roles message }
      ... on Error { code }
    }
  }
`);
const CreateRole = graphql(`
  mutation RolesCreateRole($input: CreateRoleInput!) {
    createRole(input: $input) {
      __typename
      ... on CreateRoleSuccess { role { id key name description scope isDefault createdAt updatedAt permissions { id key } } }
      ... on AlreadyExistsError { field message }
      ... on Error { code message }
    }
  }
`);
const UpdateRole = graphql(`
  mutation RolesUpdateRole($input: UpdateRoleInput!) {
    updateRole(input: $input) {
      __typename
      ... on UpdateRoleSuccess { role { id key name description scope isDefault } }
      ... on Error { code message }
    }
  }
`);
const DeleteRole = graphql(`
  mutation RolesDeleteRole($input: DeleteRoleInput!) {
    deleteRole(input: $input) {
      __typename
      ... on DeleteRoleSuccess { deletedRoleId }
      ... on RoleInUseError { code users members message }
      ... on Error { code }
    }
  }
`);
const SetRolePermissions = graphql(`
  mutation RolesSetRolePermissions($input: SetRolePermissionsInput!) {
    setRolePermissions(input: $input) {
      __typename
      ... on SetRolePermissionsSuccess { added removed role { permissions { key } } }
      ... on Error { code message }
    }
  }
`);
const AssignUserRoles = graphql(`
  mutation RolesAssignUserRoles($input: AssignUserRolesInput!) {
    assignUserRoles(input: $input) {
      __typename
      ... on AssignUserRolesSuccess { added user { id roles { key } } }
      ... on RoleScopeMismatchError { code roleId expected }
      ... on Error { code }
    }
  }
`);
const RemoveUserRoles = graphql(`
  mutation RolesRemoveUserRoles($input: RemoveUserRolesInput!) {
    removeUserRoles(input: $input) {
      __typename
      ... on RemoveUserRolesSuccess { removed user { id roles { key } } }
      ... on Error { code }
    }
  }
`);
const Catalog = graphql(`
  query RolesCatalog($scope: RoleScope, $first: Int, $after: String) {
    permissions(first: 500) { totalCount edges { node { key } } }
    roles(scope: $scope, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { key scope } } }
  }
`);
const RoleById = graphql(`
  query RolesRoleById($id: ID!) {
    role(id: $id) { id key permissions { key } }
    node(id: $id) { __typename id }
  }
`);
const UserRoles = graphql(`
  query RolesUserRoles($id: ID!) {
    user(id: $id) { roles { key scope permissions { key } } }
  }
`);
const CreateUser = graphql(`
  mutation RolesCreateUser($input: CreateUserInput!) {
    createUser(input: $input) { __typename ... on CreateUserSuccess { user { id roles { key } } } }
  }
`);
const Events = graphql(`
  query RolesEvents($types: [UserEventType!], $userId: ID) {
    events(types: $types, userId: $userId, first: 200) { edges { node { type userId data actor { type } } } }
  }
`);

let t: TestApp;
let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

async function events(types: UserEventType[], userId?: string) {
  return (await t.run(Events, { types, userId })).events.edges.map((e) => e.node);
}
/** The events of these types about one role (data.role.id). */
async function roleEvents(types: UserEventType[], roleId: string) {
  return (await events(types)).filter((e) => (e.data as { role: { id: string } }).role.id === roleId);
}

async function permission(key = unique('perm:x')) {
  const r = (await t.run(CreatePermission, { input: { key } })).createPermission;
  if (r.__typename !== 'CreatePermissionSuccess') throw new Error(r.__typename);
  return r.permission;
}
async function role(input: { scope?: 'GLOBAL' | 'ORGANIZATION'; permissionIds?: string[]; isDefault?: boolean; key?: string } = {}) {
  const r = (await t.run(CreateRole, { input: { key: input.key ?? unique('role'), name: 'A role', scope: input.scope ?? 'GLOBAL', permissionIds: input.permissionIds, isDefault: input.isDefault } }))
    .createRole;
  if (r.__typename !== 'CreateRoleSuccess') throw new Error(r.__typename);
  return r.role;
}

describe('permissions', () => {
  it('creates a permission with a trimmed key, records permission.created, and refuses the same key again', async () => {
    const created = (await t.run(CreatePermission, { input: { key: '  invoice:read  ', description: ' Read invoices ' } })).createPermission;
    expect(created).toMatchObject({ __typename: 'CreatePermissionSuccess', permission: { key: 'invoice:read', description: 'Read invoices' } });
    if (created.__typename !== 'CreatePermissionSuccess') return;
    expect(created.permission.id).toMatch(/^prm_/);

    const again = (await t.run(CreatePermission, { input: { key: 'invoice:read' } })).createPermission;
    expect(again).toEqual({ __typename: 'AlreadyExistsError', field: 'key', message: 'Another permission already has this key.' });

    const recorded = (await events(['PERMISSION_CREATED'])).filter((e) => (e.data as { permission: { id: string } }).permission.id === created.permission.id);
    expect(recorded).toEqual([
      { type: 'PERMISSION_CREATED', userId: null, data: { permission: { id: created.permission.id, key: 'invoice:read', description: 'Read invoices' } }, actor: { type: 'bootstrap_key' } },
    ]);
  });

  it('lists permissions by key', async () => {
    for (const key of ['zz:last', 'aa:first', 'mm:middle']) await permission(key);
    const { permissions } = await t.run(Catalog, {});
    const keys = permissions.edges.map((e) => e.node.key);
    expect(keys).toEqual([...keys].sort());
    expect(keys).toEqual(expect.arrayContaining(['aa:first', 'mm:middle', 'zz:last']));
    expect(permissions.totalCount).toBe(keys.length);
  });

  it('deletes a permission no role holds, and refuses one a role holds until the role lets go of it', async () => {
    const p = await permission();
    const r1 = await role({ permissionIds: [p.id] });
    const r2 = await role({ scope: 'ORGANIZATION', permissionIds: [p.id] });
    expect((await t.run(DeletePermission, { input: { id: p.id } })).deletePermission).toMatchObject({ __typename: 'PermissionInUseError', code: 'PERMISSION_IN_USE', roles: 2 });

    await t.run(SetRolePermissions, { input: { roleId: r1.id, permissionIds: [] } });
    await t.run(SetRolePermissions, { input: { roleId: r2.id, permissionIds: [] } });
    expect((await t.run(DeletePermission, { input: { id: p.id } })).deletePermission).toEqual({ __typename: 'DeletePermissionSuccess', deletedPermissionId: p.id });
    expect((await events(['PERMISSION_DELETED'])).map((e) => e.data)).toContainEqual({ permission: { id: p.id, key: p.key, description: null } });
    expect((await t.run(DeletePermission, { input: { id: p.id } })).deletePermission).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
  });
});

describe('roles', () => {
  it('creates a role with its permissions and records role.created; a key is unique within its scope only', async () => {
    const [read, write] = [await permission('doc:read'), await permission('doc:write')];
    const created = (await t.run(CreateRole, {
      input: { key: ' editor ', name: ' Editor ', description: 'Edits documents', scope: 'GLOBAL', permissionIds: [write.id, read.id, read.id] },
    })).createRole;
    expect(created).toMatchObject({
      __typename: 'CreateRoleSuccess',
      role: { key: 'editor', name: 'Editor', description: 'Edits documents', scope: 'GLOBAL', isDefault: false, permissions: [{ key: 'doc:read' }, { key: 'doc:write' }] },
    });
    if (created.__typename !== 'CreateRoleSuccess') return;
    expect(created.role.id).toMatch(/^rol_/);
    expect(await roleEvents(['ROLE_CREATED'], created.role.id)).toEqual([
      expect.objectContaining({
        data: {
          role: { id: created.role.id, key: 'editor', name: 'Editor', description: 'Edits documents', scope: 'GLOBAL', isDefault: false, permissions: ['doc:read', 'doc:write'] },
        },
      }),
    ]);

    const again = (await t.run(CreateRole, { input: { key: 'editor', name: 'Other', scope: 'GLOBAL' } })).createRole;
    expect(again).toEqual({ __typename: 'AlreadyExistsError', code: 'ALREADY_EXISTS', field: 'key', message: 'Another GLOBAL role already has this key.' });
    const otherScope = (await t.run(CreateRole, { input: { key: 'editor', name: 'Org editor', scope: 'ORGANIZATION' } })).createRole;
    expect(otherScope).toMatchObject({ __typename: 'CreateRoleSuccess', role: { key: 'editor', scope: 'ORGANIZATION' } });

    const byId = await t.run(RoleById, { id: created.role.id });
    expect(byId.role).toEqual({ id: created.role.id, key: 'editor', permissions: [{ key: 'doc:read' }, { key: 'doc:write' }] });
    expect(byId.node).toEqual({ __typename: 'Role', id: created.role.id });
    expect((await t.run(RoleById, { id: newId('Role') })).role).toBeNull();
  });

  it('refuses a role naming an unknown permission, and creates nothing', async () => {
    const key = unique('ghost');
    const r = (await t.run(CreateRole, { input: { key, name: 'Ghost', scope: 'GLOBAL', permissionIds: [newId('Permission')] } })).createRole;
    expect(r).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND', message: 'No permission has this id.' });
    const { roles } = await t.run(Catalog, { first: 500 });
    expect(roles.edges.map((e) => e.node.key)).not.toContain(key);
  });

  it('lists roles by key, narrowed by scope, page by page', async () => {
    await role({ key: 'b-global' });
    await role({ key: 'a-org', scope: 'ORGANIZATION' });
    const all = (await t.run(Catalog, { first: 500 })).roles;
    const keys = all.edges.map((e) => e.node.key);
    expect(keys).toEqual([...keys].sort());
    const global = (await t.run(Catalog, { scope: 'GLOBAL', first: 500 })).roles;
    expect(global.edges.every((e) => e.node.scope === 'GLOBAL')).toBe(true);
    expect(global.edges.map((e) => e.node.key)).toContain('b-global');
    expect(global.edges.map((e) => e.node.key)).not.toContain('a-org');
    expect(global.totalCount).toBe(global.edges.length);

    const paged: string[] = [];
    let after: string | null | undefined;
    for (;;) {
      const page = (await t.run(Catalog, { scope: 'GLOBAL', first: 2, after })).roles;
      paged.push(...page.edges.map((e) => e.node.key));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(paged).toEqual(global.edges.map((e) => e.node.key));
  });

  it('updates name, description and isDefault, records only what changed, and records nothing for no change', async () => {
    const r = await role();
    const updated = (await t.run(UpdateRole, { input: { id: r.id, name: 'Renamed', description: 'Now described' } })).updateRole;
    expect(updated).toMatchObject({ __typename: 'UpdateRoleSuccess', role: { id: r.id, key: r.key, name: 'Renamed', description: 'Now described', scope: 'GLOBAL' } });
    expect((await roleEvents(['ROLE_UPDATED'], r.id)).map((e) => (e.data as { changes: string[] }).changes)).toEqual([['name', 'description']]);

    await t.run(UpdateRole, { input: { id: r.id, name: 'Renamed', description: 'Now described' } });
    expect(await roleEvents(['ROLE_UPDATED'], r.id)).toHaveLength(1);

    const cleared = (await t.run(UpdateRole, { input: { id: r.id, description: null, isDefault: true } })).updateRole;
    expect(cleared).toMatchObject({ role: { description: null, isDefault: true } });
    expect((await roleEvents(['ROLE_UPDATED'], r.id)).map((e) => (e.data as { changes: string[] }).changes)).toEqual([['name', 'description'], ['description', 'isDefault']]);
    await t.run(UpdateRole, { input: { id: r.id, isDefault: false } });

    expect((await t.run(UpdateRole, { input: { id: r.id, name: '  ' } })).updateRole).toMatchObject({ __typename: 'InvalidInputError' });
    expect((await t.run(UpdateRole, { input: { id: r.id, name: null } })).updateRole).toMatchObject({ __typename: 'InvalidInputError' });
    expect((await t.run(UpdateRole, { input: { id: newId('Role'), name: 'x' } })).updateRole).toMatchObject({ __typename: 'NotFoundError' });
  });

  it('replaces the permissions of a role, recording the keys added and removed, and nothing when the set is unchanged', async () => {
    const [a, b, c] = [await permission(unique('set:a')), await permission(unique('set:b')), await permission(unique('set:c'))];
    const r = await role({ permissionIds: [a.id, b.id] });
    const set = (await t.run(SetRolePermissions, { input: { roleId: r.id, permissionIds: [b.id, c.id] } })).setRolePermissions;
    expect(set).toEqual({ __typename: 'SetRolePermissionsSuccess', added: [c.key], removed: [a.key], role: { permissions: [{ key: b.key }, { key: c.key }] } });
    const recorded = await roleEvents(['ROLE_PERMISSIONS_UPDATED'], r.id);
    expect(recorded.map((e) => e.data)).toEqual([{ role: expect.objectContaining({ id: r.id, permissions: [b.key, c.key] }), added: [c.key], removed: [a.key] }]);

    const same = (await t.run(SetRolePermissions, { input: { roleId: r.id, permissionIds: [c.id, b.id] } })).setRolePermissions;
    expect(same).toMatchObject({ added: [], removed: [] });
    expect(await roleEvents(['ROLE_PERMISSIONS_UPDATED'], r.id)).toHaveLength(1);

    // One unknown id refuses the whole set.
    const bad = (await t.run(SetRolePermissions, { input: { roleId: r.id, permissionIds: [a.id, newId('Permission')] } })).setRolePermissions;
    expect(bad).toMatchObject({ __typename: 'NotFoundError', message: 'No permission has this id.' });
    expect((await t.run(RoleById, { id: r.id })).role?.permissions).toEqual([{ key: b.key }, { key: c.key }]);
    expect((await t.run(SetRolePermissions, { input: { roleId: newId('Role'), permissionIds: [] } })).setRolePermissions).toMatchObject({
      __typename: 'NotFoundError',
      message: 'No role has this id.',
    });
  });

  it('refuses to delete a role held by a user or a member, and deletes it once nobody holds it', async () => {
    const p = await permission();
    const r = await role({ permissionIds: [p.id] });
    const user = await seed(t).user();
    await t.run(AssignUserRoles, { input: { userId: user.id, roleIds: [r.id] } });
    expect((await t.run(DeleteRole, { input: { id: r.id } })).deleteRole).toMatchObject({ __typename: 'RoleInUseError', code: 'ROLE_IN_USE', users: 1, members: 0 });

    await t.run(RemoveUserRoles, { input: { userId: user.id, roleIds: [r.id] } });
    expect((await t.run(DeleteRole, { input: { id: r.id } })).deleteRole).toEqual({ __typename: 'DeleteRoleSuccess', deletedRoleId: r.id });
    expect((await roleEvents(['ROLE_DELETED'], r.id)).map((e) => e.data)).toEqual([{ role: expect.objectContaining({ id: r.id, key: r.key, permissions: [p.key] }) }]);
    expect((await t.run(DeleteRole, { input: { id: r.id } })).deleteRole).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    // Its permission stays.
    expect((await t.run(Catalog, {})).permissions.edges.map((e) => e.node.key)).toContain(p.key);

    // An ORGANIZATION role held by a member (written directly: memberships have their own operations and tests).
    const orgRole = await role({ scope: 'ORGANIZATION' });
    const db = t.app.database.client;
    const org = await db.organization.create({ data: { id: newId('Organization'), name: 'Acme', slug: unique('acme'), publicMetadata: {}, privateMetadata: {} } });
    const membership = await db.membership.create({ data: { id: newId('Membership'), organizationId: org.id, userId: user.id } });
    await db.membershipRole.create({ data: { membershipId: membership.id, roleId: orgRole.id } });
    expect((await t.run(DeleteRole, { input: { id: orgRole.id } })).deleteRole).toMatchObject({ __typename: 'RoleInUseError', users: 0, members: 1 });
  });
});

describe("users' GLOBAL roles", () => {
  it('assigns and removes roles, records user.roles_updated on the user, and nothing when nothing changed', async () => {
    const p = await permission();
    const [r1, r2] = [await role({ key: unique('a-role'), permissionIds: [p.id] }), await role({ key: unique('b-role') })];
    const user = await seed(t).user();
    const assigned = (await t.run(AssignUserRoles, { input: { userId: user.id, roleIds: [r2.id, r1.id] } })).assignUserRoles;
    expect(assigned).toEqual({ __typename: 'AssignUserRolesSuccess', added: [r1.key, r2.key], user: { id: user.id, roles: [{ key: r1.key }, { key: r2.key }] } });

    // Held already: not an error, no change, no event.
    const again = (await t.run(AssignUserRoles, { input: { userId: user.id, roleIds: [r1.id] } })).assignUserRoles;
    expect(again).toMatchObject({ __typename: 'AssignUserRolesSuccess', added: [] });

    const removed = (await t.run(RemoveUserRoles, { input: { userId: user.id, roleIds: [r1.id] } })).removeUserRoles;
    expect(removed).toEqual({ __typename: 'RemoveUserRolesSuccess', removed: [r1.key], user: { id: user.id, roles: [{ key: r2.key }] } });
    expect((await t.run(RemoveUserRoles, { input: { userId: user.id, roleIds: [r1.id] } })).removeUserRoles).toMatchObject({ removed: [] });

    const recorded = await events(['USER_ROLES_UPDATED'], user.id);
    expect(recorded).toEqual([
      { type: 'USER_ROLES_UPDATED', userId: user.id, actor: { type: 'bootstrap_key' }, data: { userId: user.id, roles: [r1.key, r2.key], added: [r1.key, r2.key], removed: [] } },
      { type: 'USER_ROLES_UPDATED', userId: user.id, actor: { type: 'bootstrap_key' }, data: { userId: user.id, roles: [r2.key], added: [], removed: [r1.key] } },
    ]);

    const read = await t.run(UserRoles, { id: user.id });
    expect(read.user?.roles).toEqual([{ key: r2.key, scope: 'GLOBAL', permissions: [] }]);
    expect(await t.app.services.roles.globalPermissionKeys(user.id)).toEqual([]);
    await t.run(AssignUserRoles, { input: { userId: user.id, roleIds: [r1.id] } });
    expect(await t.app.services.roles.globalPermissionKeys(user.id)).toEqual([p.key]);
  });

  it('refuses an ORGANIZATION role, an unknown role and an unknown user, changing nothing', async () => {
    const global = await role();
    const org = await role({ scope: 'ORGANIZATION' });
    const user = await seed(t).user();
    const mixed = (await t.run(AssignUserRoles, { input: { userId: user.id, roleIds: [global.id, org.id] } })).assignUserRoles;
    expect(mixed).toEqual({ __typename: 'RoleScopeMismatchError', code: 'ROLE_SCOPE_MISMATCH', roleId: org.id, expected: 'GLOBAL' });
    const unknown = (await t.run(AssignUserRoles, { input: { userId: user.id, roleIds: [global.id, newId('Role')] } })).assignUserRoles;
    expect(unknown).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect((await t.run(UserRoles, { id: user.id })).user?.roles).toEqual([]);
    expect((await t.run(AssignUserRoles, { input: { userId: newId('User'), roleIds: [global.id] } })).assignUserRoles).toEqual({ __typename: 'UserNotFoundError', code: 'USER_NOT_FOUND' });
    expect((await t.run(RemoveUserRoles, { input: { userId: user.id, roleIds: [org.id] } })).removeUserRoles).toMatchObject({ __typename: 'RoleScopeMismatchError' });
    expect(await events(['USER_ROLES_UPDATED'], user.id)).toEqual([]);
  });

  it('gives every default GLOBAL role to a user created through createUser, in the same transaction, and records it', async () => {
    const def = await role({ key: unique('default-member'), isDefault: true });
    const orgDefault = await role({ scope: 'ORGANIZATION', isDefault: true });
    const created = (await t.run(CreateUser, { input: { email: `${unique('new')}@example.com` } })).createUser;
    if (created.__typename !== 'CreateUserSuccess') throw new Error(created.__typename);
    const keys = created.user.roles.map((r) => r.key);
    expect(keys).toContain(def.key);
    expect(keys).not.toContain(orgDefault.key);
    const recorded = await events(['USER_CREATED', 'USER_ROLES_UPDATED'], created.user.id);
    expect(recorded.map((e) => e.type)).toEqual(['USER_CREATED', 'USER_ROLES_UPDATED']);
    expect(recorded[1].data).toEqual({ userId: created.user.id, roles: keys, added: keys, removed: [] });

    // No longer a default: the next user does not get it, the first keeps it.
    await t.run(UpdateRole, { input: { id: def.id, isDefault: false } });
    const next = (await t.run(CreateUser, { input: { email: `${unique('next')}@example.com` } })).createUser;
    if (next.__typename !== 'CreateUserSuccess') throw new Error(next.__typename);
    expect(next.user.roles.map((r) => r.key)).not.toContain(def.key);
    expect((await t.run(UserRoles, { id: created.user.id })).user?.roles.map((r) => r.key)).toContain(def.key);
    // The ORGANIZATION default is there for the members service.
    expect(await t.app.services.roles.defaultRoleIds('ORGANIZATION')).toContain(orgDefault.id);
  });
});

describe('concurrency', () => {
  it('lets exactly one of five concurrent createRole with one key succeed; the others answer AlreadyExistsError', async () => {
    const key = unique('raced');
    const results = await Promise.all([0, 1, 2, 3, 4].map(() => t.exec(CreateRole, { input: { key, name: 'Raced', scope: 'GLOBAL' } })));
    expect(results.flatMap((r) => r.errors ?? [])).toEqual([]);
    const kinds = results.map((r) => r.data!.createRole.__typename).sort();
    expect(kinds).toEqual(['AlreadyExistsError', 'AlreadyExistsError', 'AlreadyExistsError', 'AlreadyExistsError', 'CreateRoleSuccess']);
    expect((await events(['ROLE_CREATED'])).filter((e) => (e.data as { role: { key: string } }).role.key === key)).toHaveLength(1);
  });

  it('never deletes a role that an assignment racing with the deletion reports as given, and answers both with typed results', async () => {
    for (let round = 0; round < 5; round++) {
      const r = await role();
      const user = await seed(t).user();
      const [deleted, assigned] = await Promise.all([
        t.exec(DeleteRole, { input: { id: r.id } }),
        t.exec(AssignUserRoles, { input: { userId: user.id, roleIds: [r.id] } }),
      ]);
      expect([...(deleted.errors ?? []), ...(assigned.errors ?? [])]).toEqual([]);
      const d = deleted.data!.deleteRole.__typename;
      const a = assigned.data!.assignUserRoles.__typename;
      // Either the deletion came first (the assignment finds no role) or the assignment did (the deletion finds a holder).
      expect([`${d} ${a}`]).toEqual([expect.stringMatching(/^(DeleteRoleSuccess NotFoundError|RoleInUseError AssignUserRolesSuccess)$/)]);
      const held = (await t.run(UserRoles, { id: user.id })).user?.roles.map((x) => x.key);
      expect(held?.includes(r.key)).toBe(a === 'AssignUserRolesSuccess');
    }
  });

  it('never deletes a permission that a concurrent setRolePermissions reports as added', async () => {
    for (let round = 0; round < 5; round++) {
      const p = await permission();
      const r = await role();
      const [deleted, set] = await Promise.all([
        t.exec(DeletePermission, { input: { id: p.id } }),
        t.exec(SetRolePermissions, { input: { roleId: r.id, permissionIds: [p.id] } }),
      ]);
      expect([...(deleted.errors ?? []), ...(set.errors ?? [])]).toEqual([]);
      const outcome = `${deleted.data!.deletePermission.__typename} ${set.data!.setRolePermissions.__typename}`;
      expect([outcome]).toEqual([expect.stringMatching(/^(DeletePermissionSuccess NotFoundError|PermissionInUseError SetRolePermissionsSuccess)$/)]);
    }
  });
});
