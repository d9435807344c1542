/**
 * The SQL of roles and permissions: Permission, Role, RolePermission and
 * UserRole (MembershipRole rows belong to the members store; only counted
 * here). Writes run inside the caller's transaction, where the service also
 * records the event. Two writes make the deletion policy hold under
 * concurrency on PostgreSQL: a role or permission is locked FOR UPDATE
 * before its holders are counted, and an assignment's foreign key takes a
 * KEY SHARE lock on the same row, so the two wait for each other and the
 * loser either counts the winner's row or fails its foreign key
 * (isForeignKeyViolation). SQLite runs one writer at a time.
 */
import type { DatabaseProvider } from '../../config.js';
import { adapterCause } from '../../kernel/db/adapter-errors.js';
import { Prisma, type Db, type Tx } from '../../kernel/db/client.js';
import { newId } from '../../kernel/ids.js';

export type RoleScope = 'GLOBAL' | 'ORGANIZATION';
export type PermissionRow = Prisma.PermissionGetPayload<object>;
export type RoleRow = Prisma.RoleGetPayload<object>;
/** A role with the keys of its permissions, by key. */
export type RoleWithKeys = RoleRow & { permissionKeys: string[] };

/** The columns an update of a role may write; absent ones are left alone. */
export type RoleChanges = Partial<Pick<RoleRow, 'name' | 'description' | 'isDefault'>>;

/**
 * True when an error is a foreign-key violation: a row it points to is gone.
 * Model calls say P2003; raw statements say P2010 with the driver's kind.
 */
export function isForeignKeyViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code } = error as { code?: string };
  return code === 'P2003' || (code === 'P2010' && adapterCause(error)?.kind === 'ForeignKeyConstraintViolation');
}

const withPermissionKeys = {
  permissions: { select: { permission: { select: { key: true } } }, orderBy: { permission: { key: 'asc' } } },
} as const satisfies Prisma.RoleInclude;

type LoadedRole = Prisma.RoleGetPayload<{ include: typeof withPermissionKeys }>;
const flatten = ({ permissions, ...role }: LoadedRole): RoleWithKeys => ({ ...role, permissionKeys: permissions.map((p) => p.permission.key) });

/**
 * The permission keys of a user's GLOBAL roles, sorted, in one query (what
 * permission checks and token claims read).
 */
export async function findGlobalPermissionKeysOfUser(db: Db | Tx, userId: string): Promise<string[]> {
  const rows = await db.permission.findMany({
    where: { roles: { some: { role: { scope: 'GLOBAL', users: { some: { userId } } } } } },
    select: { key: true },
    orderBy: { key: 'asc' },
  });
  return rows.map((r) => r.key);
}

/** The ids of the default roles of a scope, by key: given to new users (GLOBAL) or to new members who name no roles (ORGANIZATION). */
export async function findDefaultRoleIds(db: Db | Tx, scope: RoleScope): Promise<string[]> {
  const rows = await db.role.findMany({ where: { scope, isDefault: true }, select: { id: true }, orderBy: { key: 'asc' } });
  return rows.map((r) => r.id);
}

export type RoleStore = ReturnType<typeof createRoleStore>;

export function createRoleStore(deps: { provider: DatabaseProvider }) {
  /** Locks a row against concurrent assignments until the transaction ends (PostgreSQL; SQLite has one writer). */
  async function lockRow(tx: Tx, table: 'Role' | 'Permission', id: string): Promise<void> {
    if (deps.provider !== 'postgresql') return;
    // Table names are the two literals above; the id is bound.
    await tx.$queryRaw(Prisma.sql([`SELECT "id" FROM "${table}" WHERE "id" = `, ' FOR UPDATE'], id));
  }

  return {
    // ── Permissions ──

    /** Inserts a permission; a taken key fails with a unique violation (P2002). */
    insertPermission(tx: Tx, row: { key: string; description: string | null; now: Date }): Promise<PermissionRow> {
      return tx.permission.create({ data: { id: newId('Permission'), key: row.key, description: row.description, createdAt: row.now } });
    },

    /** The permissions among `ids` that exist. */
    findPermissionsByIds(tx: Tx, ids: string[]): Promise<PermissionRow[]> {
      return tx.permission.findMany({ where: { id: { in: ids } }, orderBy: { key: 'asc' } });
    },

    /** Reads a permission and locks it against being added to a role until the transaction ends; null when there is none. */
    async lockPermission(tx: Tx, id: string): Promise<PermissionRow | null> {
      await lockRow(tx, 'Permission', id);
      return tx.permission.findUnique({ where: { id } });
    },

    /** How many roles hold the permission. */
    countRolesWithPermission(tx: Tx, permissionId: string): Promise<number> {
      return tx.rolePermission.count({ where: { permissionId } });
    },

    /** Deletes a permission; false when there was none. */
    async deletePermission(tx: Tx, id: string): Promise<boolean> {
      const { count } = await tx.permission.deleteMany({ where: { id } });
      return count > 0;
    },

    // ── Roles ──

    /** Inserts a role with its permissions; a taken (scope, key) fails with a unique violation (P2002), a permission gone with P2003. */
    async insertRole(
      tx: Tx,
      row: { key: string; name: string; description: string | null; scope: RoleScope; isDefault: boolean; permissionIds: string[]; now: Date },
    ): Promise<RoleWithKeys> {
      const { permissionIds, now, ...columns } = row;
      const role = await tx.role.create({ data: { id: newId('Role'), ...columns, createdAt: now, updatedAt: now } });
      if (permissionIds.length) await tx.rolePermission.createMany({ data: permissionIds.map((permissionId) => ({ roleId: role.id, permissionId })) });
      return flatten(await tx.role.findUniqueOrThrow({ where: { id: role.id }, include: withPermissionKeys }));
    },

    /** A role with its permission keys; null when there is none. */
    async findRole(tx: Tx, id: string): Promise<RoleWithKeys | null> {
      const role = await tx.role.findUnique({ where: { id }, include: withPermissionKeys });
      return role && flatten(role);
    },

    /** The roles among `ids` that exist. */
    findRolesByIds(tx: Tx, ids: string[]): Promise<RoleRow[]> {
      return tx.role.findMany({ where: { id: { in: ids } }, orderBy: { key: 'asc' } });
    },

    /**
     * Reads a role and locks it against assignments and permission changes
     * until the transaction ends; null when there is none.
     */
    async lockRole(tx: Tx, id: string): Promise<RoleWithKeys | null> {
      await lockRow(tx, 'Role', id);
      const role = await tx.role.findUnique({ where: { id }, include: withPermissionKeys });
      return role && flatten(role);
    },

    /** Writes the changes; returns the role as written, or null when there is none. */
    async updateRole(tx: Tx, id: string, changes: RoleChanges, now: Date): Promise<RoleWithKeys | null> {
      const { count } = await tx.role.updateMany({ where: { id }, data: { ...changes, updatedAt: now } });
      if (count === 0) return null;
      return flatten(await tx.role.findUniqueOrThrow({ where: { id }, include: withPermissionKeys }));
    },

    /** Who holds the role: users (GLOBAL) and organization members (ORGANIZATION). */
    async countRoleHolders(tx: Tx, roleId: string): Promise<{ users: number; members: number }> {
      const users = await tx.userRole.count({ where: { roleId } });
      const members = await tx.membershipRole.count({ where: { roleId } });
      return { users, members };
    },

    /** Deletes a role (its permission links go with it); false when there was none. */
    async deleteRole(tx: Tx, id: string): Promise<boolean> {
      const { count } = await tx.role.deleteMany({ where: { id } });
      return count > 0;
    },

    /** The permissions a role holds: their ids and keys. */
    async findRolePermissions(tx: Tx, roleId: string): Promise<Array<{ permissionId: string; key: string }>> {
      const rows = await tx.rolePermission.findMany({ where: { roleId }, select: { permissionId: true, permission: { select: { key: true } } } });
      return rows.map((r) => ({ permissionId: r.permissionId, key: r.permission.key }));
    },

    /** Adds and removes permissions of a role (a permission gone fails with P2003), and touches its updatedAt. */
    async changeRolePermissions(tx: Tx, roleId: string, change: { add: string[]; remove: string[]; now: Date }): Promise<RoleWithKeys> {
      if (change.remove.length) await tx.rolePermission.deleteMany({ where: { roleId, permissionId: { in: change.remove } } });
      if (change.add.length) await tx.rolePermission.createMany({ data: change.add.map((permissionId) => ({ roleId, permissionId })) });
      await tx.role.updateMany({ where: { id: roleId }, data: { updatedAt: change.now } });
      return flatten(await tx.role.findUniqueOrThrow({ where: { id: roleId }, include: withPermissionKeys }));
    },

    // ── A user's GLOBAL roles ──

    /** The keys of the GLOBAL roles a user holds, sorted. */
    async findGlobalRoleKeysOfUser(tx: Tx, userId: string): Promise<string[]> {
      const rows = await tx.userRole.findMany({ where: { userId, role: { scope: 'GLOBAL' } }, select: { role: { select: { key: true } } }, orderBy: { role: { key: 'asc' } } });
      return rows.map((r) => r.role.key);
    },

    /**
     * Gives roles to a user, skipping those held already (also when a
     * concurrent request gives the same one: the insert decides). Returns the
     * ids actually added. A user or role gone fails with P2003.
     */
    async insertUserRoles(tx: Tx, userId: string, roleIds: string[], now: Date): Promise<string[]> {
      if (!roleIds.length) return [];
      const values = Prisma.join(roleIds.map((roleId) => Prisma.sql`(${userId}, ${roleId}, ${now})`));
      const rows = await tx.$queryRaw<Array<{ roleId: string }>>(
        Prisma.sql`INSERT INTO "UserRole" ("userId", "roleId", "createdAt") VALUES ${values} ON CONFLICT DO NOTHING RETURNING "roleId"`,
      );
      return rows.map((r) => r.roleId);
    },

    /** Takes roles from a user; returns the ids actually removed. */
    async deleteUserRoles(tx: Tx, userId: string, roleIds: string[]): Promise<string[]> {
      if (!roleIds.length) return [];
      const rows = await tx.$queryRaw<Array<{ roleId: string }>>(
        Prisma.sql`DELETE FROM "UserRole" WHERE "userId" = ${userId} AND "roleId" IN (${Prisma.join(roleIds)}) RETURNING "roleId"`,
      );
      return rows.map((r) => r.roleId);
    },

    /**
     * Gives a new user every default GLOBAL role, in one statement (a role
     * deleted meanwhile is simply not given). Returns the keys given, sorted.
     */
    async grantDefaultGlobalRoles(tx: Tx, userId: string, now: Date): Promise<string[]> {
      // SQLite needs the WHERE to read ON CONFLICT as the upsert clause; it is there anyway.
      const rows = await tx.$queryRaw<Array<{ roleId: string }>>(
        Prisma.sql`INSERT INTO "UserRole" ("userId", "roleId", "createdAt")
          SELECT ${userId}, "id", ${now} FROM "Role" WHERE "scope" = 'GLOBAL' AND "isDefault" = ${true}
          ON CONFLICT DO NOTHING RETURNING "roleId"`,
      );
      if (!rows.length) return [];
      const roles = await tx.role.findMany({ where: { id: { in: rows.map((r) => r.roleId) } }, select: { key: true }, orderBy: { key: 'asc' } });
      return roles.map((r) => r.key);
    },
  };
}
