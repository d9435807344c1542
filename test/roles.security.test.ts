/**
 * Threat: a signed-in user raising its own privileges or reading others'.
 * With its access token a user cannot manage permissions or roles, cannot
 * give itself (or anyone) a role, and reads only its own roles. Management
 * input is hostile too: a role id of the wrong scope or an unknown one in a
 * list refuses the whole list with no partial effect, and keys that look
 * like injection (SQL, paths, markup, control characters, look-alike
 * Unicode) are refused before they reach the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../src/kernel/ids.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { seed, type SeededUser } from './helpers/seed.js';

const CreatePermission = graphql(`
  mutation RolesSecCreatePermission($input: CreatePermissionInput!) {
    createPermission(input: $input) { __typename ... on CreatePermissionSuccess { permission { id key } } ... on InvalidInputError { field } }
  }
`);
const DeletePermission = graphql(`
  mutation RolesSecDeletePermission($input: DeletePermissionInput!) { deletePermission(input: $input) { __typename } }
`);
const CreateRole = graphql(`
  mutation RolesSecCreateRole($input: CreateRoleInput!) {
    createRole(input: $input) { __typename ... on CreateRoleSuccess { role { id key } } ... on InvalidInputError { field } }
  }
`);
const UpdateRole = graphql(`
  mutation RolesSecUpdateRole($input: UpdateRoleInput!) { updateRole(input: $input) { __typename } }
`);
const DeleteRole = graphql(`
  mutation RolesSecDeleteRole($input: DeleteRoleInput!) { deleteRole(input: $input) { __typename } }
`);
const SetRolePermissions = graphql(`
  mutation RolesSecSetRolePermissions($input: SetRolePermissionsInput!) { setRolePermissions(input: $input) { __typename } }
`);
const AssignUserRoles = graphql(`
  mutation RolesSecAssignUserRoles($input: AssignUserRolesInput!) { assignUserRoles(input: $input) { __typename } }
`);
const RemoveUserRoles = graphql(`
  mutation RolesSecRemoveUserRoles($input: RemoveUserRolesInput!) { removeUserRoles(input: $input) { __typename } }
`);
const Catalog = graphql(`
  query RolesSecCatalog { permissions(first: 10) { totalCount } }
`);
const Roles = graphql(`
  query RolesSecRoles { roles(first: 10) { totalCount } }
`);
const RoleById = graphql(`
  query RolesSecRoleById($id: ID!) { role(id: $id) { key } }
`);
const MyRoles = graphql(`
  query RolesSecMyRoles { me { id roles { key permissions { key } } } }
`);
const UserRoles = graphql(`
  query RolesSecUserRoles($id: ID!) { user(id: $id) { roles { key } } }
`);
const NodeRoles = graphql(`
  query RolesSecNodeRoles($id: ID!) { node(id: $id) { ... on User { roles { key } } } }
`);
const Events = graphql(`
  query RolesSecEvents($types: [UserEventType!]) { events(types: $types, first: 100) { edges { node { type } } } }
`);

let t: TestApp;
let me: SeededUser;
let other: SeededUser;
let token: string;
let adminRole: { id: string; key: string };
let orgRole: { id: string; key: string };
let permissionId: string;

beforeAll(async () => {
  t = await createTestApp();
  me = await seed(t).user().signedIn();
  other = await seed(t).user();
  token = me.session!.accessToken;
  const p = (await t.run(CreatePermission, { input: { key: 'users:delete' } })).createPermission;
  if (p.__typename !== 'CreatePermissionSuccess') throw new Error(p.__typename);
  permissionId = p.permission.id;
  const r = (await t.run(CreateRole, { input: { key: 'admin', name: 'Admin', scope: 'GLOBAL', permissionIds: [permissionId] } })).createRole;
  const o = (await t.run(CreateRole, { input: { key: 'org-owner', name: 'Owner', scope: 'ORGANIZATION' } })).createRole;
  if (r.__typename !== 'CreateRoleSuccess' || o.__typename !== 'CreateRoleSuccess') throw new Error('setup');
  adminRole = r.role;
  orgRole = o.role;
  await t.run(AssignUserRoles, { input: { userId: other.id, roleIds: [adminRole.id] } });
});
afterAll(() => t?.close());

const forbidden = (result: { errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> }) => result.errors?.[0]?.extensions?.code;

describe('an access token', () => {
  it('cannot call any management mutation (FORBIDDEN, API_KEY_REQUIRED), and none of them changes anything', async () => {
    const attempts = [
      t.exec(CreatePermission, { input: { key: 'sneaky:perm' } }, { token }),
      t.exec(DeletePermission, { input: { id: permissionId } }, { token }),
      t.exec(CreateRole, { input: { key: 'sneaky', name: 'Sneaky', scope: 'GLOBAL', isDefault: true } }, { token }),
      t.exec(UpdateRole, { input: { id: adminRole.id, isDefault: true } }, { token }),
      t.exec(DeleteRole, { input: { id: orgRole.id } }, { token }),
      t.exec(SetRolePermissions, { input: { roleId: adminRole.id, permissionIds: [] } }, { token }),
      t.exec(AssignUserRoles, { input: { userId: other.id, roleIds: [adminRole.id] } }, { token }),
      t.exec(RemoveUserRoles, { input: { userId: other.id, roleIds: [adminRole.id] } }, { token }),
    ];
    for (const result of await Promise.all(attempts)) {
      expect(result.data).toBeNull();
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'API_KEY_REQUIRED' });
    }
    expect(
      (await t.run(Events, { types: ['PERMISSION_CREATED', 'PERMISSION_DELETED', 'ROLE_CREATED', 'ROLE_UPDATED', 'ROLE_DELETED', 'ROLE_PERMISSIONS_UPDATED'] })).events.edges.map(
        (e) => e.node.type,
      ),
    ).toEqual(['PERMISSION_CREATED', 'ROLE_CREATED', 'ROLE_CREATED']);
    expect((await t.run(RoleById, { id: adminRole.id })).role).toEqual({ key: 'admin' });
  });

  it('cannot give itself a role, not even one it names by its own user id, nor take roles from itself', async () => {
    const assign = await t.exec(AssignUserRoles, { input: { userId: me.id, roleIds: [adminRole.id] } }, { token });
    expect(forbidden(assign)).toBe('FORBIDDEN');
    expect((await t.exec(RemoveUserRoles, { input: { userId: me.id, roleIds: [adminRole.id] } }, { token })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await t.run(MyRoles, undefined, { token })).me).toEqual({ id: me.id, roles: [] });
    expect(await t.app.services.roles.globalPermissionKeys(me.id)).toEqual([]);
  });

  it("reads its own roles through me, and cannot read another user's, nor the catalog", async () => {
    await t.run(AssignUserRoles, { input: { userId: me.id, roleIds: [adminRole.id] } });
    expect((await t.run(MyRoles, undefined, { token })).me?.roles).toEqual([{ key: 'admin', permissions: [{ key: 'users:delete' }] }]);

    for (const result of [
      await t.exec(UserRoles, { id: other.id }, { token }),
      await t.exec(NodeRoles, { id: other.id }, { token }),
      await t.exec(Catalog, undefined, { token }),
      await t.exec(Roles, undefined, { token }),
      await t.exec(RoleById, { id: adminRole.id }, { token }),
    ]) {
      expect(forbidden(result)).toBe('FORBIDDEN');
      expect(JSON.stringify(result.data ?? null)).not.toContain('admin');
    }
    // No token at all.
    expect((await t.exec(MyRoles, undefined, { token: null })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await t.run(RemoveUserRoles, { input: { userId: me.id, roleIds: [adminRole.id] } });
  });
});

describe('management input', () => {
  it('refuses a list with one ORGANIZATION role or one unknown id as a whole: nothing is assigned or removed', async () => {
    const victim = await seed(t).user();
    for (const roleIds of [
      [adminRole.id, orgRole.id],
      [adminRole.id, newId('Role')],
      [adminRole.id, victim.id],
    ]) {
      const result = (await t.run(AssignUserRoles, { input: { userId: victim.id, roleIds } })).assignUserRoles;
      expect(['RoleScopeMismatchError', 'NotFoundError']).toContain(result.__typename);
    }
    expect((await t.run(UserRoles, { id: victim.id })).user?.roles).toEqual([]);

    await t.run(AssignUserRoles, { input: { userId: victim.id, roleIds: [adminRole.id] } });
    const remove = (await t.run(RemoveUserRoles, { input: { userId: victim.id, roleIds: [adminRole.id, orgRole.id] } })).removeUserRoles;
    expect(remove.__typename).toBe('RoleScopeMismatchError');
    expect((await t.run(UserRoles, { id: victim.id })).user?.roles).toEqual([{ key: 'admin' }]);
  });

  it('refuses injection-like, oversized and look-alike keys before they reach the database', async () => {
    const bad = [
      '',
      '   ',
      "x'; DROP TABLE \"Role\"; --",
      'invoice:read OR 1=1',
      '../../etc/passwd',
      '<script>alert(1)</script>',
      'Invoice:Read',
      'invoice\nread',
      'invoice\tread',
      'invoice:reаd', // Cyrillic а
      'invoice read',
      '%00',
      'a'.repeat(101),
      'x\u200b', // zero-width space
    ];
    for (const key of bad) {
      const p = (await t.run(CreatePermission, { input: { key } })).createPermission;
      expect(p, JSON.stringify(key)).toEqual({ __typename: 'InvalidInputError', field: 'key' });
      const r = (await t.run(CreateRole, { input: { key, name: 'x', scope: 'GLOBAL' } })).createRole;
      expect(r, JSON.stringify(key)).toEqual({ __typename: 'InvalidInputError', field: 'key' });
    }
    // A NUL never reaches the database either (the edge refuses it on every field).
    expect((await t.run(CreatePermission, { input: { key: 'a\u0000b' } })).createPermission.__typename).toBe('InvalidInputError');
    expect((await t.run(CreateRole, { input: { key: 'r'.repeat(65), name: 'x', scope: 'GLOBAL' } })).createRole).toEqual({ __typename: 'InvalidInputError', field: 'key' });
    expect((await t.run(CreateRole, { input: { key: 'ok-key', name: 'n'.repeat(201), scope: 'GLOBAL' } })).createRole).toEqual({ __typename: 'InvalidInputError', field: 'name' });
    // The longest keys allowed, of every allowed character.
    expect((await t.run(CreatePermission, { input: { key: `a-b_c.d:9${'z'.repeat(91)}` } })).createPermission.__typename).toBe('CreatePermissionSuccess');
    expect((await t.run(CreateRole, { input: { key: `a-b_c.d:9${'z'.repeat(55)}`, name: 'Long', scope: 'GLOBAL' } })).createRole.__typename).toBe('CreateRoleSuccess');
    expect((await t.run(Catalog)).permissions.totalCount).toBe(2);
  });
});
