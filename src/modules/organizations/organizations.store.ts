/**
 * The SQL of organizations, memberships, invitations and domains. The
 * services decide what to write; the writes here run in the caller's
 * transaction, where the service records the change's event.
 *
 * One discipline keeps concurrent membership changes apart: every write to
 * an organization's memberships first locks the organization row
 * (`lockOrganization`), so the owner rule and "one membership per user" are
 * decided on a stable set of members. On SQLite, transactions already run one
 * at a time; on PostgreSQL the lock is `SELECT … FOR UPDATE`.
 */
import type { DatabaseProvider } from '../../config.js';
import { Prisma, type Db, type Tx } from '../../kernel/db/client.js';
import { inIdList } from '../../kernel/db/id-list.js';
import type { Membership, Organization, OrganizationDomain, OrganizationInvitation } from '../../kernel/db/models.js';
import { newId } from '../../kernel/ids.js';
import { insensitiveFor, userTextWhere } from '../users/text-match.js';

type Reader = Db | Tx;

/** Facts about a role that the rules need. */
export interface RoleFacts {
  id: string;
  key: string;
  scope: string;
}

/** What organization lists may be narrowed by. */
export interface OrganizationListFilter {
  /** Text over the name and the slug. */
  query?: string | null;
  /** Organizations this user is a member of. */
  userId?: string | null;
}

/** What member lists may be narrowed by. */
export interface MemberListFilter {
  /** Members holding the ORGANIZATION role with this key. */
  roleKey?: string | null;
  /** Text over the member's email, username and names. */
  query?: string | null;
}

export type OrganizationChanges = Partial<Pick<Organization, 'name' | 'slug'>> & { publicMetadata?: object; privateMetadata?: object; updatedAt: Date };
export type DomainChanges = { autoJoin?: boolean; roleIds?: string[]; updatedAt: Date };

/** A page as plugin-prisma's connections ask for it: the selection, a cursor and a signed take. */
export type OrganizationPageQuery = Pick<Prisma.OrganizationFindManyArgs, 'select' | 'include' | 'cursor' | 'skip' | 'take'>;


/** The `where` of an organization list. */
export function organizationListWhere(provider: DatabaseProvider, filter: OrganizationListFilter = {}): Prisma.OrganizationWhereInput {
  const and: Prisma.OrganizationWhereInput[] = [];
  const q = filter.query?.trim();
  // SQLite's LIKE is case-insensitive for ASCII already and rejects `mode`.
  if (q) and.push({ OR: [{ name: { contains: q, ...insensitiveFor(provider) } }, { slug: { contains: q.toLowerCase() } }] });
  if (filter.userId) and.push({ memberships: { some: { userId: filter.userId } } });
  return and.length ? { AND: and } : {};
}

/** The `where` of a member list (Organization.members). */
export function memberListWhere(provider: DatabaseProvider, filter: MemberListFilter = {}): Prisma.MembershipWhereInput {
  const and: Prisma.MembershipWhereInput[] = [];
  if (filter.roleKey) and.push({ roles: { some: { role: { key: filter.roleKey, scope: 'ORGANIZATION' } } } });
  const q = filter.query?.trim();
  if (q) and.push({ user: userTextWhere(provider, q) });
  return and.length ? { AND: and } : {};
}

export type OrganizationStore = ReturnType<typeof createOrganizationStore>;

export function createOrganizationStore(deps: { db: Db; provider: DatabaseProvider }) {
  const { db, provider } = deps;

  /**
   * Locks several organizations, in id order, for the rest of the
   * transaction; the rows found. Every writer that locks more than one
   * (deleteUser, setRolePermissions) goes through here: one order, so two
   * of them never wait for each other in a circle.
   */
  async function lockOrganizations(tx: Tx, ids: readonly string[]): Promise<Array<Pick<Organization, 'id' | 'name' | 'slug'>>> {
    if (ids.length === 0) return [];
    // One parameter for the whole list: it is as long as the data makes it (id-list.ts).
    const among = inIdList(provider, '"id"', [...new Set(ids)]);
    return provider === 'postgresql'
      ? tx.$queryRaw(Prisma.sql`SELECT "id", "name", "slug" FROM "Organization" WHERE ${among} ORDER BY "id" FOR UPDATE`)
      : tx.$queryRaw(Prisma.sql`SELECT "id", "name", "slug" FROM "Organization" WHERE ${among} ORDER BY "id"`);
  }

  return {
    // ── Organizations ──

    insertOrganization(tx: Tx, row: { name: string; slug: string; publicMetadata: object; privateMetadata: object; now: Date }): Promise<Organization> {
      return tx.organization.create({
        data: { id: newId('Organization'), name: row.name, slug: row.slug, publicMetadata: row.publicMetadata, privateMetadata: row.privateMetadata, createdAt: row.now, updatedAt: row.now },
      });
    },

    /** Writes the changes; the organization as written, or null when there is none. */
    async updateOrganization(tx: Tx, id: string, changes: OrganizationChanges): Promise<Organization | null> {
      const { count } = await tx.organization.updateMany({ where: { id }, data: changes });
      return count === 0 ? null : tx.organization.findUniqueOrThrow({ where: { id } });
    },

    /** Deletes it with its memberships, invitations and domains (cascade); the row it was, or null. */
    async deleteOrganization(tx: Tx, id: string): Promise<Organization | null> {
      const row = await tx.organization.findUnique({ where: { id } });
      if (!row) return null;
      const { count } = await tx.organization.deleteMany({ where: { id } });
      return count === 0 ? null : row;
    },

    /**
     * Locks the organization row for the rest of the transaction (PostgreSQL:
     * FOR UPDATE; SQLite runs one transaction at a time) and returns it, or
     * null when there is none. Membership writers call it first.
     */
    async lockOrganization(tx: Tx, id: string): Promise<Pick<Organization, 'id' | 'name' | 'slug'> | null> {
      return (await lockOrganizations(tx, [id]))[0] ?? null;
    },

    lockOrganizations,

    /** The metadata of an organization (the caller holds its lock when it writes them back). */
    findOrganizationMetadata(tx: Reader, id: string): Promise<Pick<Organization, 'publicMetadata' | 'privateMetadata'> | null> {
      return tx.organization.findUnique({ where: { id }, select: { publicMetadata: true, privateMetadata: true } });
    },

    findOrganization(id: string): Promise<Organization | null> {
      return db.organization.findUnique({ where: { id } });
    },

    /** A page of organizations, oldest first. */
    findOrganizationPage(query: OrganizationPageQuery, filter: OrganizationListFilter) {
      return db.organization.findMany({ ...query, where: organizationListWhere(provider, filter), orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    },

    countOrganizations(filter: OrganizationListFilter): Promise<number> {
      return db.organization.count({ where: organizationListWhere(provider, filter) });
    },

    // ── Roles (read only: the roles module writes them) ──

    findRoles(tx: Reader, ids: string[]): Promise<RoleFacts[]> {
      return ids.length ? tx.role.findMany({ where: { id: { in: ids } }, select: { id: true, key: true, scope: true } }) : Promise.resolve([]);
    },

    /** The ORGANIZATION roles given to new members who name none. */
    findDefaultOrganizationRoles(tx: Reader): Promise<RoleFacts[]> {
      return tx.role.findMany({ where: { scope: 'ORGANIZATION', isDefault: true }, select: { id: true, key: true, scope: true }, orderBy: { key: 'asc' } });
    },

    /** Whether any of these roles grants the permission. */
    async rolesGrant(tx: Reader, roleIds: string[], permissionKey: string): Promise<boolean> {
      if (roleIds.length === 0) return false;
      const n = await tx.rolePermission.count({ where: { roleId: { in: roleIds }, permission: { key: permissionKey } } });
      return n > 0;
    },

    // ── Memberships ──

    /** The membership of a user in an organization, with its roles. */
    findMembership(tx: Reader, organizationId: string, userId: string) {
      return tx.membership.findUnique({
        where: { organizationId_userId: { organizationId, userId } },
        include: { roles: { select: { role: { select: { id: true, key: true, scope: true } } } } },
      });
    },

    /** Inserts a membership with its roles (the caller holds the organization lock). */
    async insertMembership(tx: Tx, row: { organizationId: string; userId: string; roleIds: string[]; now: Date }): Promise<Membership> {
      const membership = await tx.membership.create({ data: { id: newId('Membership'), organizationId: row.organizationId, userId: row.userId, createdAt: row.now } });
      if (row.roleIds.length) await tx.membershipRole.createMany({ data: row.roleIds.map((roleId) => ({ membershipId: membership.id, roleId })) });
      return membership;
    },

    /** Adds and removes role rows of a membership. */
    async changeMembershipRoles(tx: Tx, membershipId: string, change: { add: string[]; remove: string[] }): Promise<void> {
      if (change.remove.length) await tx.membershipRole.deleteMany({ where: { membershipId, roleId: { in: change.remove } } });
      if (change.add.length) await tx.membershipRole.createMany({ data: change.add.map((roleId) => ({ membershipId, roleId })) });
    },

    async deleteMembership(tx: Tx, id: string): Promise<boolean> {
      const { count } = await tx.membership.deleteMany({ where: { id } });
      return count > 0;
    },

    /** The organizations a user is a member of, by id. */
    async findOrganizationIdsOfUser(tx: Reader, userId: string): Promise<string[]> {
      const rows = await tx.membership.findMany({ where: { userId }, select: { organizationId: true }, orderBy: { organizationId: 'asc' } });
      return rows.map((r) => r.organizationId);
    },

    /** The organizations where some member holds this role, by id. */
    async findOrganizationsWithRole(tx: Reader, roleId: string): Promise<string[]> {
      const rows = await tx.organization.findMany({ where: { memberships: { some: { roles: { some: { roleId } } } } }, select: { id: true }, orderBy: { id: 'asc' } });
      return rows.map((r) => r.id);
    },

    /**
     * The organizations where the members holding the permission all hold it
     * through this role: some member holds the role, and no member holds the
     * permission through another one. By id.
     */
    async findOrganizationsHoldingPermissionOnlyThrough(tx: Reader, roleId: string, permissionKey: string): Promise<string[]> {
      const rows = await tx.organization.findMany({
        where: {
          memberships: { some: { roles: { some: { roleId } } } },
          NOT: { memberships: { some: { roles: { some: { roleId: { not: roleId }, role: { permissions: { some: { permission: { key: permissionKey } } } } } } } } },
        },
        select: { id: true },
        orderBy: { id: 'asc' },
      });
      return rows.map((r) => r.id);
    },

    /**
     * Holds these roles' permissions still until the transaction ends
     * (PostgreSQL: FOR KEY SHARE, which setRolePermissions' FOR UPDATE of the
     * role waits for; SQLite runs one writer at a time): what a member writer
     * reads of them stays true until it commits.
     */
    async shareLockRoles(tx: Tx, roleIds: readonly string[]): Promise<void> {
      if (provider !== 'postgresql' || roleIds.length === 0) return;
      await tx.$queryRaw(Prisma.sql`SELECT "id" FROM "Role" WHERE ${inIdList(provider, '"id"', [...new Set(roleIds)])} ORDER BY "id" FOR KEY SHARE`);
    },

    /** The members of an organization holding the permission through one of their roles. */
    async findPermissionHolders(tx: Tx, organizationId: string, permissionKey: string): Promise<string[]> {
      const rows = await tx.membership.findMany({
        where: { organizationId, roles: { some: { role: { permissions: { some: { permission: { key: permissionKey } } } } } } },
        select: { userId: true },
      });
      return rows.map((r) => r.userId);
    },

    // ── Users (read only) ──

    /**
     * Locks a user's row for the rest of the transaction (PostgreSQL: FOR
     * UPDATE; SQLite runs one writer at a time): no membership of the user can
     * be added until it ends, since the insert's foreign key waits for it.
     * False when there is no such user.
     */
    async lockUser(tx: Tx, userId: string): Promise<boolean> {
      const rows =
        provider === 'postgresql'
          ? await tx.$queryRaw<Array<{ id: string }>>(Prisma.sql`SELECT "id" FROM "User" WHERE "id" = ${userId} FOR UPDATE`)
          : await tx.$queryRaw<Array<{ id: string }>>(Prisma.sql`SELECT "id" FROM "User" WHERE "id" = ${userId}`);
      return rows.length > 0;
    },

    findUserEmail(tx: Reader, userId: string) {
      return tx.user.findUnique({ where: { id: userId }, select: { id: true, emailNormalized: true, emailVerifiedAt: true } });
    },

    // ── Invitations ──

    /** Marks the pending invitation in this slot EXPIRED when it is overdue; the expired row, or null. */
    async expireOverdueInSlot(tx: Tx, pendingSlot: string, now: Date): Promise<OrganizationInvitation | null> {
      const row = await tx.organizationInvitation.findUnique({ where: { pendingSlot } });
      if (!row || row.expiresAt > now) return null;
      const { count } = await tx.organizationInvitation.updateMany({
        where: { id: row.id, status: 'PENDING', expiresAt: { lte: now } },
        data: { status: 'EXPIRED', pendingSlot: null, updatedAt: now },
      });
      return count === 1 ? row : null;
    },

    /** Inserts a pending invitation; the unique pendingSlot refuses a second one (P2002). */
    insertInvitation(
      tx: Tx,
      row: { organizationId: string; email: string; roleIds: string[]; tokenHash: string; expiresAt: Date; inviterType: string; inviterId: string | null; now: Date },
    ): Promise<OrganizationInvitation> {
      return tx.organizationInvitation.create({
        data: {
          id: newId('OrganizationInvitation'),
          organizationId: row.organizationId,
          email: row.email,
          roleIds: row.roleIds,
          status: 'PENDING',
          pendingSlot: `${row.organizationId}:${row.email}`,
          tokenHash: row.tokenHash,
          inviterType: row.inviterType,
          inviterId: row.inviterId,
          expiresAt: row.expiresAt,
          createdAt: row.now,
          updatedAt: row.now,
        },
      });
    },

    findInvitationByTokenHash(tokenHash: string): Promise<OrganizationInvitation | null> {
      return db.organizationInvitation.findUnique({ where: { tokenHash } });
    },

    findInvitation(tx: Reader, id: string): Promise<OrganizationInvitation | null> {
      return tx.organizationInvitation.findUnique({ where: { id } });
    },

    /**
     * PENDING → ACCEPTED, conditional on it being pending and not overdue:
     * of concurrent accepts exactly one gets true.
     */
    async acceptInvitation(tx: Tx, id: string, userId: string, now: Date): Promise<boolean> {
      const { count } = await tx.organizationInvitation.updateMany({
        where: { id, status: 'PENDING', expiresAt: { gt: now } },
        data: { status: 'ACCEPTED', pendingSlot: null, acceptedUserId: userId, acceptedAt: now, updatedAt: now },
      });
      return count === 1;
    },

    /** PENDING → REVOKED or EXPIRED, conditional on it being pending; false when it was not. */
    async endInvitation(tx: Tx, id: string, status: 'REVOKED' | 'EXPIRED', now: Date): Promise<boolean> {
      const { count } = await tx.organizationInvitation.updateMany({
        where: { id, status: 'PENDING', ...(status === 'EXPIRED' ? { expiresAt: { lte: now } } : {}) },
        data: { status, pendingSlot: null, updatedAt: now },
      });
      return count === 1;
    },

    /** Pending invitations past their expiry, oldest first. */
    findOverdueInvitations(now: Date, limit: number): Promise<OrganizationInvitation[]> {
      return db.organizationInvitation.findMany({ where: { status: 'PENDING', expiresAt: { lte: now } }, orderBy: { expiresAt: 'asc' }, take: limit });
    },

    // ── Domains ──

    insertDomain(tx: Tx, row: { organizationId: string; domain: string; autoJoin: boolean; roleIds: string[]; now: Date }): Promise<OrganizationDomain> {
      return tx.organizationDomain.create({
        data: { id: newId('OrganizationDomain'), organizationId: row.organizationId, domain: row.domain, autoJoin: row.autoJoin, roleIds: row.roleIds, createdAt: row.now, updatedAt: row.now },
      });
    },

    findDomain(tx: Reader, id: string): Promise<OrganizationDomain | null> {
      return tx.organizationDomain.findUnique({ where: { id } });
    },

    async updateDomain(tx: Tx, id: string, changes: DomainChanges): Promise<OrganizationDomain | null> {
      const { count } = await tx.organizationDomain.updateMany({ where: { id }, data: changes });
      return count === 0 ? null : tx.organizationDomain.findUniqueOrThrow({ where: { id } });
    },

    /** Sets verifiedAt, conditional on it being unverified; the verified row, or null when it was verified (or gone) already. */
    async markDomainVerified(tx: Tx, id: string, now: Date): Promise<OrganizationDomain | null> {
      const { count } = await tx.organizationDomain.updateMany({ where: { id, verifiedAt: null }, data: { verifiedAt: now, updatedAt: now } });
      return count === 0 ? null : tx.organizationDomain.findUniqueOrThrow({ where: { id } });
    },

    async deleteDomain(tx: Tx, id: string): Promise<OrganizationDomain | null> {
      const row = await tx.organizationDomain.findUnique({ where: { id } });
      if (!row) return null;
      const { count } = await tx.organizationDomain.deleteMany({ where: { id } });
      return count === 0 ? null : row;
    },

    /** Verified domains with autoJoin at this (lower-case) domain, in every organization. */
    findAutoJoinDomains(domain: string): Promise<OrganizationDomain[]> {
      return db.organizationDomain.findMany({ where: { domain, autoJoin: true, verifiedAt: { not: null } }, orderBy: { createdAt: 'asc' } });
    },

    /** The users (id, lower-cased email, verified) of these ids whose email is verified. */
    findVerifiedEmails(userIds: string[]) {
      return userIds.length
        ? db.user.findMany({ where: { id: { in: userIds }, emailVerifiedAt: { not: null } }, select: { id: true, emailNormalized: true } })
        : Promise.resolve([]);
    },
  };
}
