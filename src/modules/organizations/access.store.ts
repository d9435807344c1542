/**
 * The reads behind permission checks and token claims: plain prepared
 * statements (direct SQL), since `can` and sign-in run them on hot paths.
 * A user's permissions come from its GLOBAL roles outside organizations and
 * from its membership's ORGANIZATION roles inside one: one join each.
 */
import type { DirectSql } from '../../kernel/db/direct.js';

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

export function createAccessStore(direct: DirectSql) {
  return {
    /** Permission keys of the users' GLOBAL roles, as (userId, key) rows. */
    globalPermissions(userIds: readonly string[]) {
      return direct.all<{ userId: string; key: string }>(
        `SELECT DISTINCT ur."userId" AS "userId", p."key" AS "key"
           FROM "UserRole" ur
           JOIN "RolePermission" rp ON rp."roleId" = ur."roleId"
           JOIN "Permission" p ON p."id" = rp."permissionId"
          WHERE ur."userId" IN (${placeholders(userIds.length)})`,
        [...userIds],
      );
    },

    /** Permission keys the members' ORGANIZATION roles give them in one organization, as (userId, key) rows. */
    organizationPermissions(organizationId: string, userIds: readonly string[]) {
      return direct.all<{ userId: string; key: string }>(
        `SELECT DISTINCT m."userId" AS "userId", p."key" AS "key"
           FROM "Membership" m
           JOIN "MembershipRole" mr ON mr."membershipId" = m."id"
           JOIN "RolePermission" rp ON rp."roleId" = mr."roleId"
           JOIN "Permission" p ON p."id" = rp."permissionId"
          WHERE m."organizationId" = ? AND m."userId" IN (${placeholders(userIds.length)})`,
        [organizationId, ...userIds],
      );
    },

    /** Keys of a user's GLOBAL roles. */
    async globalRoleKeys(userId: string): Promise<string[]> {
      const rows = await direct.all<{ key: string }>(
        `SELECT r."key" AS "key" FROM "UserRole" ur JOIN "Role" r ON r."id" = ur."roleId" WHERE ur."userId" = ? ORDER BY r."key"`,
        [userId],
      );
      return rows.map((r) => r.key);
    },

    /**
     * A user's membership of an organization: the organization's slug and the
     * keys of the member's roles (one row per role; one row with a null key
     * when it has none); no rows when the user is not a member.
     */
    membershipRoles(userId: string, organizationId: string) {
      return direct.all<{ slug: string; roleKey: string | null }>(
        `SELECT o."slug" AS "slug", r."key" AS "roleKey"
           FROM "Membership" m
           JOIN "Organization" o ON o."id" = m."organizationId"
           LEFT JOIN "MembershipRole" mr ON mr."membershipId" = m."id"
           LEFT JOIN "Role" r ON r."id" = mr."roleId"
          WHERE m."userId" = ? AND m."organizationId" = ?
          ORDER BY r."key"`,
        [userId, organizationId],
      );
    },
  };
}
