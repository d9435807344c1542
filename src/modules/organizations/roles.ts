/**
 * Roles and permissions: the catalog an operator manages (permissions, roles
 * of two scopes, the permissions of each role) and the GLOBAL roles of users.
 * ORGANIZATION roles are given to members by the members service, which
 * validates them with `rolesForAssignment` and reads the defaults with
 * `defaultRoleIds`. Every change records its event in its own transaction.
 *
 * Deletion is refused while something holds the role or permission
 * (RoleInUseError, PermissionInUseError); the store's row locks make the
 * check and the delete one step against concurrent assignments. Taking the
 * owner permission from an ORGANIZATION role keeps the owner rule of the
 * organizations service (LastOwnerError).
 */
import type { DatabaseProvider } from '../../config.js';
import type { Clock } from '../../kernel/clock.js';
import { isUniqueViolation, type Db, type Tx } from '../../kernel/db/client.js';
import { AlreadyExistsError, assertThat, InvalidInputError, NotFoundError, UserNotFoundError } from '../../kernel/errors.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Outbox } from '../catalog.js';
import { PermissionInUseError, RoleInUseError, RoleScopeMismatchError } from './errors.js';
import { OrganizationsToLockError, type OrganizationService } from './organizations.js';
import {
  createRoleStore,
  findDefaultRoleIds,
  findGlobalPermissionKeysOfUser,
  isForeignKeyViolation,
  type PermissionRow,
  type RoleChanges,
  type RoleRow,
  type RoleScope,
  type RoleWithKeys,
} from './roles.store.js';

export type { RoleScope } from './roles.store.js';

// Lower-case letters, digits and _ - . : ("invoice:read", "org.billing-admin").
const KEY = /^[a-z0-9_.:-]+$/;
const KEY_CHARS = 'lower-case letters, digits, _, -, . and :';
export const PERMISSION_KEY_MAX = 100;
export const ROLE_KEY_MAX = 64;
const NAME_MAX = 200;
const DESCRIPTION_MAX = 1000;
/** The most ids one input may list. */
const IDS_MAX = 500;
/**
 * Transactions setRolePermissions may take to lock the organizations where
 * members hold a role losing the owner permission: the first finds them, a
 * later one runs again only when members gained the role elsewhere meanwhile.
 */
const OWNER_RULE_ATTEMPTS = 4;

function checkKey(field: string, value: string, max: number): string {
  const key = value.trim();
  assertThat(key.length >= 1 && key.length <= max, () => new InvalidInputError(field, `${field} must be 1 to ${max} characters.`));
  assertThat(KEY.test(key), () => new InvalidInputError(field, `${field} may contain only ${KEY_CHARS}.`));
  return key;
}

function checkName(field: string, value: string): string {
  const name = value.trim();
  assertThat(name.length >= 1 && name.length <= NAME_MAX, () => new InvalidInputError(field, `${field} must be 1 to ${NAME_MAX} characters.`));
  return name;
}

/** Trimmed; empty or null clears it. */
function checkDescription(value: string | null | undefined): string | null {
  const description = value?.trim() ?? '';
  assertThat(description.length <= DESCRIPTION_MAX, () => new InvalidInputError('description', `description must be at most ${DESCRIPTION_MAX} characters.`));
  return description || null;
}

/** The ids without repeats, in the order given; at most IDS_MAX. */
function checkIds(field: string, ids: readonly string[]): string[] {
  const unique = [...new Set(ids.map(String))];
  assertThat(unique.length <= IDS_MAX, () => new InvalidInputError(field, `${field} may list at most ${IDS_MAX} ids.`));
  return unique;
}

function checkScope(scope: string): RoleScope {
  assertThat(scope === 'GLOBAL' || scope === 'ORGANIZATION', () => new InvalidInputError('scope', 'scope must be GLOBAL or ORGANIZATION.'));
  return scope;
}

/** The public facts of a permission and a role, as events carry them. */
const permissionPayload = (p: PermissionRow) => ({ id: p.id, key: p.key, description: p.description });
const rolePayload = (r: RoleWithKeys) => ({
  id: r.id,
  key: r.key,
  name: r.name,
  description: r.description,
  scope: r.scope as RoleScope,
  isDefault: r.isDefault,
  permissions: r.permissionKeys,
});

const sorted = (keys: string[]) => [...keys].sort();

export interface CreateRoleInput {
  key: string;
  name: string;
  description?: string | null;
  scope: RoleScope;
  permissionIds?: readonly string[] | null;
  isDefault?: boolean | null;
}

/** Fields left out are unchanged; a null description clears it. Key and scope never change. */
export interface UpdateRoleInput {
  name?: string | null;
  description?: string | null;
  isDefault?: boolean | null;
}

export type RoleService = ReturnType<typeof createRoleService>;

export function createRoleService(deps: {
  db: Db;
  provider: DatabaseProvider;
  outbox: Outbox;
  clock: Clock;
  /** The owner rule, which setRolePermissions keeps when it takes the owner permission from an ORGANIZATION role. */
  owners: Pick<OrganizationService, 'ownerPermission' | 'lockOrganizations' | 'assertOwnersKeptWithoutRole'>;
}) {
  const { db, outbox, clock, owners } = deps;
  const store = createRoleStore({ provider: deps.provider });

  /**
   * Runs `fn` in a transaction that records its events. A unique violation
   * becomes `onDuplicate`; a foreign-key violation (a row it points to was
   * deleted concurrently) becomes what `onVanished` finds missing. Both are
   * caught outside the transaction: on PostgreSQL it is aborted by then.
   */
  async function write<T>(fn: (tx: Tx) => Promise<T>, on: { duplicate?: () => Error; vanished?: () => Promise<Error> } = {}): Promise<T> {
    try {
      return await outbox.transaction(fn);
    } catch (error) {
      if (on.duplicate && isUniqueViolation(error)) throw on.duplicate();
      if (on.vanished && isForeignKeyViolation(error)) throw await on.vanished();
      throw error;
    }
  }

  /** The permissions named by `ids`; NotFoundError when one is unknown. */
  async function permissionsFor(tx: Tx, ids: string[]): Promise<PermissionRow[]> {
    const found = await store.findPermissionsByIds(tx, ids);
    assertThat(found.length === ids.length, () => new NotFoundError('permission'));
    return found;
  }

  /**
   * The roles named by `ids`, all of `scope`: NotFoundError for an unknown
   * id, RoleScopeMismatchError for a role of the other scope. Checked before
   * anything is written, so a bad id changes nothing.
   */
  async function rolesForAssignment(tx: Tx, ids: string[], scope: RoleScope): Promise<RoleRow[]> {
    const found = await store.findRolesByIds(tx, ids);
    assertThat(found.length === ids.length, () => new NotFoundError('role'));
    const other = found.find((r) => r.scope !== scope);
    assertThat(!other, () => new RoleScopeMismatchError(other!.id, scope));
    return found;
  }

  /** After a failed assignment: the user or a role went away meanwhile. */
  const userOrRoleGone = (userId: string) => async () =>
    (await db.user.findUnique({ where: { id: userId }, select: { id: true } })) ? new NotFoundError('role') : new UserNotFoundError(userId);

  /** Records user.roles_updated when something changed. */
  async function recordUserRoles(tx: Tx, userId: string, added: string[], removed: string[], meta: RequestMeta): Promise<void> {
    if (!added.length && !removed.length) return;
    const roles = await store.findGlobalRoleKeysOfUser(tx, userId);
    await outbox.record(tx, { type: 'user.roles_updated', userId, data: { userId, roles, added: sorted(added), removed: sorted(removed) } }, meta);
  }

  /**
   * One transaction of setRolePermissions: locks `guarded` (organizations,
   * in id order) and then the role, so it takes locks in the order member
   * writers do; OrganizationsToLockError when the owner permission goes and
   * members hold the role in organizations it did not lock.
   */
  function replaceRolePermissions(roleId: string, ids: string[], guarded: readonly string[], meta: RequestMeta) {
    return write(
      async (tx) => {
        await owners.lockOrganizations(tx, guarded);
        // Locked: two concurrent replacements apply one after the other, each against what the other left.
        const before = await store.lockRole(tx, roleId);
        if (!before) throw new NotFoundError('role');
        const wanted = await permissionsFor(tx, ids);
        const current = await store.findRolePermissions(tx, roleId);
        const currentIds = new Set(current.map((c) => c.permissionId));
        const wantedIds = new Set(ids);
        const add = wanted.filter((p) => !currentIds.has(p.id));
        const remove = current.filter((c) => !wantedIds.has(c.permissionId));
        if (!add.length && !remove.length) return { role: before, added: [], removed: [] };
        if (before.scope === 'ORGANIZATION' && remove.some((c) => c.key === owners.ownerPermission)) {
          await owners.assertOwnersKeptWithoutRole(tx, roleId, guarded);
        }
        const role = await store.changeRolePermissions(tx, roleId, { add: add.map((p) => p.id), remove: remove.map((c) => c.permissionId), now: clock.now() });
        const added = sorted(add.map((p) => p.key));
        const removed = sorted(remove.map((c) => c.key));
        await outbox.record(tx, { type: 'role.permissions_updated', data: { role: rolePayload(role), added, removed } }, meta);
        return { role, added, removed };
      },
      {
        vanished: async () => ((await db.role.findUnique({ where: { id: roleId }, select: { id: true } })) ? new NotFoundError('permission') : new NotFoundError('role')),
      },
    );
  }

  async function changeUserRoles(kind: 'assign' | 'remove', userId: string, roleIds: readonly string[], meta: RequestMeta) {
    const ids = checkIds('roleIds', roleIds);
    return write(
      async (tx) => {
        const user = await tx.user.findUnique({ where: { id: userId }, select: { id: true } });
        if (!user) throw new UserNotFoundError(userId);
        const roles = await rolesForAssignment(tx, ids, 'GLOBAL');
        const keyOf = new Map(roles.map((r) => [r.id, r.key]));
        const changed =
          kind === 'assign' ? await store.insertUserRoles(tx, userId, ids, clock.now()) : await store.deleteUserRoles(tx, userId, ids);
        const keys = changed.map((id) => keyOf.get(id)!);
        await recordUserRoles(tx, userId, kind === 'assign' ? keys : [], kind === 'remove' ? keys : [], meta);
        return { userId, added: kind === 'assign' ? sorted(keys) : [], removed: kind === 'remove' ? sorted(keys) : [] };
      },
      { vanished: userOrRoleGone(userId) },
    );
  }

  return {
    // ── Permissions ──

    /** Creates a permission. Throws InvalidInputError, AlreadyExistsError('key'). */
    async createPermission(input: { key: string; description?: string | null }, meta: RequestMeta): Promise<PermissionRow> {
      const key = checkKey('key', input.key, PERMISSION_KEY_MAX);
      const description = checkDescription(input.description);
      return write(
        async (tx) => {
          const permission = await store.insertPermission(tx, { key, description, now: clock.now() });
          await outbox.record(tx, { type: 'permission.created', data: { permission: permissionPayload(permission) } }, meta);
          return permission;
        },
        { duplicate: () => new AlreadyExistsError('key', 'permission') },
      );
    },

    /** Deletes a permission no role holds. Throws NotFoundError, PermissionInUseError. */
    async deletePermission(id: string, meta: RequestMeta): Promise<{ id: string }> {
      return write(async (tx) => {
        const permission = await store.lockPermission(tx, id);
        if (!permission) throw new NotFoundError('permission');
        const roles = await store.countRolesWithPermission(tx, id);
        if (roles > 0) throw new PermissionInUseError(roles);
        if (!(await store.deletePermission(tx, id))) throw new NotFoundError('permission');
        await outbox.record(tx, { type: 'permission.deleted', data: { permission: permissionPayload(permission) } }, meta);
        return { id };
      });
    },

    // ── Roles ──

    /** Creates a role with its permissions. Throws InvalidInputError, AlreadyExistsError('key'), NotFoundError (a permission). */
    async createRole(input: CreateRoleInput, meta: RequestMeta): Promise<RoleWithKeys> {
      const row = {
        key: checkKey('key', input.key, ROLE_KEY_MAX),
        name: checkName('name', input.name),
        description: checkDescription(input.description),
        scope: checkScope(input.scope),
        isDefault: input.isDefault ?? false,
        permissionIds: checkIds('permissionIds', input.permissionIds ?? []),
      };
      return write(
        async (tx) => {
          await permissionsFor(tx, row.permissionIds);
          const role = await store.insertRole(tx, { ...row, now: clock.now() });
          await outbox.record(tx, { type: 'role.created', data: { role: rolePayload(role) } }, meta);
          return role;
        },
        { duplicate: () => new AlreadyExistsError('key', `${row.scope} role`), vanished: async () => new NotFoundError('permission') },
      );
    },

    /**
     * Changes a role's name, description or default flag (key and scope are
     * fixed once created). Nothing changed: no write and no event. Throws
     * NotFoundError, InvalidInputError.
     */
    async updateRole(id: string, input: UpdateRoleInput, meta: RequestMeta): Promise<RoleWithKeys> {
      const patch: RoleChanges = {};
      if (input.name !== undefined) {
        assertThat(input.name !== null, () => new InvalidInputError('name', 'name cannot be cleared.'));
        patch.name = checkName('name', input.name);
      }
      if (input.description !== undefined) patch.description = checkDescription(input.description);
      if (input.isDefault !== undefined) {
        assertThat(input.isDefault !== null, () => new InvalidInputError('isDefault', 'isDefault must be true or false.'));
        patch.isDefault = input.isDefault;
      }
      return write(async (tx) => {
        const before = await store.findRole(tx, id);
        if (!before) throw new NotFoundError('role');
        const changes = (Object.keys(patch) as Array<keyof RoleChanges>).filter((field) => patch[field] !== before[field]);
        if (!changes.length) return before;
        const role = await store.updateRole(tx, id, Object.fromEntries(changes.map((f) => [f, patch[f]])), clock.now());
        if (!role) throw new NotFoundError('role');
        await outbox.record(tx, { type: 'role.updated', data: { role: rolePayload(role), changes } }, meta);
        return role;
      });
    },

    /** Deletes a role nobody holds. Throws NotFoundError, RoleInUseError. */
    async deleteRole(id: string, meta: RequestMeta): Promise<{ id: string }> {
      return write(async (tx) => {
        const role = await store.lockRole(tx, id);
        if (!role) throw new NotFoundError('role');
        const holders = await store.countRoleHolders(tx, id);
        if (holders.users > 0 || holders.members > 0) throw new RoleInUseError(holders.users, holders.members);
        if (!(await store.deleteRole(tx, id))) throw new NotFoundError('role');
        await outbox.record(tx, { type: 'role.deleted', data: { role: rolePayload(role) } }, meta);
        return { id };
      });
    },

    /**
     * Replaces the permissions of a role with `permissionIds`. Records
     * role.permissions_updated with the keys added and removed, unless
     * nothing changed. Taking the owner permission from an ORGANIZATION role
     * is refused while some organization's members hold it only through this
     * role (LastOwnerError). Throws NotFoundError (the role or a permission),
     * InvalidInputError, LastOwnerError.
     */
    async setRolePermissions(roleId: string, permissionIds: readonly string[], meta: RequestMeta): Promise<{ role: RoleWithKeys; added: string[]; removed: string[] }> {
      const ids = checkIds('permissionIds', permissionIds);
      // The organizations to lock before the role: none, until a transaction finds the owner permission going.
      let guarded: string[] = [];
      for (let attempt = 1; ; attempt++) {
        try {
          return await replaceRolePermissions(roleId, ids, guarded, meta);
        } catch (error) {
          if (!(error instanceof OrganizationsToLockError) || attempt >= OWNER_RULE_ATTEMPTS) throw error;
          guarded = error.organizationIds;
        }
      }
    },

    // ── A user's GLOBAL roles ──

    /**
     * Gives GLOBAL roles to a user; roles held already are skipped (no error,
     * no change). Records user.roles_updated when something was added.
     * Throws UserNotFoundError, NotFoundError (a role), RoleScopeMismatchError, InvalidInputError.
     */
    assignUserRoles: (userId: string, roleIds: readonly string[], meta: RequestMeta) => changeUserRoles('assign', userId, roleIds, meta),

    /** Takes GLOBAL roles from a user; roles not held are skipped. Throws as assignUserRoles. */
    removeUserRoles: (userId: string, roleIds: readonly string[], meta: RequestMeta) => changeUserRoles('remove', userId, roleIds, meta),

    /**
     * Gives a user just created every default GLOBAL role, inside the
     * transaction that creates it (the users service calls it), and records
     * user.roles_updated when there were any.
     */
    async grantDefaultRoles(tx: Tx, userId: string, meta: RequestMeta): Promise<void> {
      const keys = await store.grantDefaultGlobalRoles(tx, userId, clock.now());
      await recordUserRoles(tx, userId, keys, [], meta);
    },

    // ── For other services ──

    /** The ids of the default roles of a scope (ORGANIZATION: given to a new member who names no roles). */
    defaultRoleIds: (scope: RoleScope, tx: Tx = db) => findDefaultRoleIds(tx, scope),

    rolesForAssignment,

    /** The permission keys of a user's GLOBAL roles, sorted (one query). */
    globalPermissionKeys: (userId: string) => findGlobalPermissionKeysOfUser(db, userId),
  };
}
