/**
 * Contract of the roles store, on the provider under test: a user's
 * permission keys come from its GLOBAL roles only, in one query; giving and
 * taking roles reports exactly the rows it changed, also when requests race;
 * default roles go to a new user in one statement; a role that is gone fails
 * an assignment with a foreign-key violation the service can name.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../kernel/ids.js';
import { createDatabase, type Database } from '../../kernel/db/client.js';
import { useStoreDatabase } from '../../../test/helpers/store-db.js';
import { testProvider, freshDatabase } from '../../../test/helpers/db.js';
import { createRoleStore, findDefaultRoleIds, findGlobalPermissionKeysOfUser, isForeignKeyViolation, type RoleScope, type RoleStore } from './roles.store.js';

const storeDb = useStoreDatabase();
const { inTx } = storeDb;
let store: RoleStore;
const t0 = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
let counter = 0;
const unique = () => `${++counter}`;

beforeAll(() => {
  store = createRoleStore({ provider: testProvider });
});

const newUser = () => storeDb.db.user.create({ data: { id: newId('User') } });
const newPermission = (key = `perm:${unique()}`) => inTx((tx) => store.insertPermission(tx, { key, description: null, now: t0 }));
const newRole = (scope: RoleScope, permissionIds: string[] = [], isDefault = false) =>
  inTx((tx) => store.insertRole(tx, { key: `role-${unique()}`, name: 'Role', description: null, scope, isDefault, permissionIds, now: t0 }));

describe('roles store: permission keys of a user', () => {
  it("returns the sorted keys of the user's GLOBAL roles, without repeats, and none from ORGANIZATION roles", async () => {
    const [read, write, orgOnly] = [await newPermission('invoice:read'), await newPermission('invoice:write'), await newPermission('org:only')];
    const reader = await newRole('GLOBAL', [read.id]);
    const editor = await newRole('GLOBAL', [write.id, read.id]);
    const orgRole = await newRole('ORGANIZATION', [orgOnly.id]);
    const user = await newUser();
    expect(await findGlobalPermissionKeysOfUser(storeDb.db, user.id)).toEqual([]);

    await inTx((tx) => store.insertUserRoles(tx, user.id, [reader.id, editor.id], t0));
    // Written by hand: only the members store gives ORGANIZATION roles, and only through memberships; a stray row must still not count.
    await storeDb.db.userRole.create({ data: { userId: user.id, roleId: orgRole.id, createdAt: t0 } });
    expect(await findGlobalPermissionKeysOfUser(storeDb.db, user.id)).toEqual(['invoice:read', 'invoice:write']);
    expect(await findGlobalPermissionKeysOfUser(storeDb.db, (await newUser()).id)).toEqual([]);
  });

  it('reads them in one query', async () => {
    const testDb = await freshDatabase();
    const queries: string[] = [];
    let database: Database | undefined;
    try {
      database = await createDatabase(testDb.provider, testDb.url, { log: (q) => void queries.push(q) });
      const user = await database.client.user.create({ data: { id: newId('User') } });
      queries.length = 0;
      await findGlobalPermissionKeysOfUser(database.client, user.id);
      expect(queries.filter((q) => /select/i.test(q))).toHaveLength(1);
    } finally {
      await database?.close();
      await testDb.drop();
    }
  });
});

describe("roles store: a user's roles", () => {
  it('gives only the roles not held yet and says which, and takes only those held', async () => {
    const [a, b, c] = [await newRole('GLOBAL'), await newRole('GLOBAL'), await newRole('GLOBAL')];
    const user = await newUser();
    expect(await inTx((tx) => store.insertUserRoles(tx, user.id, [a.id], t0))).toEqual([a.id]);
    expect((await inTx((tx) => store.insertUserRoles(tx, user.id, [a.id, b.id], t0))).sort()).toEqual([b.id]);
    expect(await inTx((tx) => store.insertUserRoles(tx, user.id, [], t0))).toEqual([]);
    const row = await storeDb.db.userRole.findUniqueOrThrow({ where: { userId_roleId: { userId: user.id, roleId: b.id } } });
    expect(row.createdAt.toISOString()).toBe(t0.toISOString());

    expect((await inTx((tx) => store.deleteUserRoles(tx, user.id, [a.id, c.id]))).sort()).toEqual([a.id]);
    expect(await inTx((tx) => store.findGlobalRoleKeysOfUser(tx, user.id))).toEqual([b.key]);
  });

  it('gives a role once when requests race, and tells exactly one of them it did', async () => {
    const role = await newRole('GLOBAL');
    const user = await newUser();
    const results = await Promise.all([0, 1, 2, 3].map(() => inTx((tx) => store.insertUserRoles(tx, user.id, [role.id], t0))));
    expect(results.flat()).toEqual([role.id]);
  });

  it('fails with a foreign-key violation when the role or the user is gone', async () => {
    const user = await newUser();
    const failure = await inTx((tx) => store.insertUserRoles(tx, user.id, [newId('Role')], t0)).catch((e: unknown) => e);
    expect(isForeignKeyViolation(failure)).toBe(true);
    const role = await newRole('GLOBAL');
    const noUser = await inTx((tx) => store.insertUserRoles(tx, newId('User'), [role.id], t0)).catch((e: unknown) => e);
    expect(isForeignKeyViolation(noUser)).toBe(true);
  });
});

describe('roles store: defaults and holders', () => {
  it('gives a new user every default GLOBAL role and nothing else, and lists the defaults of each scope', async () => {
    const before = await findDefaultRoleIds(storeDb.db, 'GLOBAL');
    const global = await newRole('GLOBAL', [], true);
    const org = await newRole('ORGANIZATION', [], true);
    await newRole('GLOBAL', [], false);
    expect(await findDefaultRoleIds(storeDb.db, 'GLOBAL')).toEqual(expect.arrayContaining([...before, global.id]));
    expect(await findDefaultRoleIds(storeDb.db, 'GLOBAL')).not.toContain(org.id);
    expect(await findDefaultRoleIds(storeDb.db, 'ORGANIZATION')).toContain(org.id);

    const user = await newUser();
    const keys = await inTx((tx) => store.grantDefaultGlobalRoles(tx, user.id, t0));
    expect(keys).toContain(global.key);
    expect(await inTx((tx) => store.findGlobalRoleKeysOfUser(tx, user.id))).toEqual(keys);
    expect(keys).not.toContain(org.key);
  });

  it('counts the users holding a role and the roles holding a permission', async () => {
    const permission = await newPermission();
    const role = await newRole('GLOBAL', [permission.id]);
    await newRole('GLOBAL', [permission.id]);
    const [u1, u2] = [await newUser(), await newUser()];
    await inTx((tx) => store.insertUserRoles(tx, u1.id, [role.id], t0));
    await inTx((tx) => store.insertUserRoles(tx, u2.id, [role.id], t0));
    expect(await inTx((tx) => store.countRoleHolders(tx, role.id))).toEqual({ users: 2, members: 0 });
    expect(await inTx((tx) => store.countRolesWithPermission(tx, permission.id))).toBe(2);
  });

  it('replaces permissions of a role and keeps the keys sorted', async () => {
    const [p1, p2, p3] = [await newPermission('b:two'), await newPermission('a:one'), await newPermission('c:three')];
    const role = await newRole('GLOBAL', [p1.id, p2.id]);
    expect(role.permissionKeys).toEqual(['a:one', 'b:two']);
    const later = new Date(t0.getTime() + 1000);
    const changed = await inTx((tx) => store.changeRolePermissions(tx, role.id, { add: [p3.id], remove: [p2.id], now: later }));
    expect(changed.permissionKeys).toEqual(['b:two', 'c:three']);
    expect(changed.updatedAt.toISOString()).toBe(later.toISOString());
  });
});
