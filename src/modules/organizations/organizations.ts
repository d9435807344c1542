/**
 * Organizations and their members. A member holds ORGANIZATION roles; the
 * owner rule keeps at least one member holding the owner permission
 * (config.organizations.ownerPermission) once some member holds it.
 *
 * Every membership write locks its organization row first (the store's
 * lockOrganization), so concurrent removals of the last two owners, or two
 * adds of one user, are decided one after the other. Two other changes can
 * take an owner away and keep the rule too: deleting a user (the users
 * service calls removeMembershipsOfDeletedUser first) and taking the owner
 * permission from a role (setRolePermissions, through
 * assertOwnersKeptWithoutRole).
 *
 * Lock order, on PostgreSQL: a user's row before organizations (deleteUser),
 * organizations in id order before roles (setRolePermissions; a member writer
 * share-locks the roles it gives, and its inserts' foreign keys lock the user
 * and the roles), so no two writers wait for each other in a circle.
 */
import type { DatabaseProvider } from '../../config.js';
import type { Db, Tx } from '../../kernel/db/client.js';
import { isUniqueViolation } from '../../kernel/db/client.js';
import type { Membership, Organization } from '../../kernel/db/models.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Clock } from '../../kernel/clock.js';
import { AlreadyExistsError, InvalidInputError, NotFoundError, UserNotFoundError } from '../../kernel/errors.js';
import { applyMetadataChange, storedMetadata, type MetadataMode } from '../../kernel/metadata.js';
import type { Outbox } from '../catalog.js';
import { LastOwnerError, OrganizationRoleRequiredError } from './errors.js';
import {
  createOrganizationStore,
  memberListWhere,
  type MemberListFilter,
  type OrganizationChanges,
  type OrganizationListFilter,
  type OrganizationStore,
  type OrganizationPageQuery,
  type RoleFacts,
} from './organizations.store.js';

export type { MemberListFilter, OrganizationListFilter } from './organizations.store.js';

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])$/;

export interface OrganizationInput {
  name?: string | null;
  slug?: string | null;
  publicMetadata?: unknown;
  privateMetadata?: unknown;
}

/** A change of an organization's metadata (updateOrganizationMetadata): parts left out or null stay. */
export interface OrganizationMetadataInput {
  organizationId: string;
  public?: unknown;
  private?: unknown;
  /** Default MERGE (RFC 7396). */
  mode?: MetadataMode | null;
}

type OrganizationMetadataPart = 'public' | 'private';
const COLUMN = { public: 'publicMetadata', private: 'privateMetadata' } as const satisfies Record<OrganizationMetadataPart, 'publicMetadata' | 'privateMetadata'>;

/**
 * The metadata columns a change writes, by the rules users' metadata follows
 * (kernel/metadata.ts: objects, depth, 8 KB for both parts together), from
 * the stored parts (null: an organization being created). `fields` names the
 * input field of each part in InvalidInputError.
 */
function metadataColumns(
  stored: Pick<Organization, 'publicMetadata' | 'privateMetadata'> | null,
  changes: Partial<Record<OrganizationMetadataPart, unknown>>,
  mode: MetadataMode,
  fields: Record<OrganizationMetadataPart, string>,
) {
  const current = { public: storedMetadata(stored?.publicMetadata), private: storedMetadata(stored?.privateMetadata) };
  const { next, changed } = applyMetadataChange<OrganizationMetadataPart>({ current, changes, mode, fields });
  const columns: { publicMetadata?: object; privateMetadata?: object } = {};
  for (const part of changed) columns[COLUMN[part]] = next[part];
  return { columns, next };
}

const inputFields = { public: 'publicMetadata', private: 'privateMetadata' };

/** How a member joined, as member_added says. */
export type JoinedVia = 'admin' | 'invitation' | 'domain';

/**
 * setRolePermissions must lock these organizations before the role and try
 * again: members hold the role in organizations it did not lock. Not a
 * PortcullisError: the roles service retries on it, no client sees it.
 */
export class OrganizationsToLockError extends Error {
  constructor(readonly organizationIds: string[]) {
    super('The organizations holding the role changed: lock them first, then retry.');
  }
}

/** Why a member left, as member_removed says. */
export type RemovedVia = 'admin' | 'user_deleted';

/** What events say of an organization. */
export const organizationPayload = (o: Pick<Organization, 'id' | 'name' | 'slug'>) => ({ id: o.id, name: o.name, slug: o.slug });
const membershipPayload = (m: Pick<Membership, 'id' | 'userId'>, roles: RoleFacts[]) => ({ id: m.id, userId: m.userId, roles: roles.map((r) => r.key).sort() });

function checkName(name: string): string {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > 200) throw new InvalidInputError('name', 'The name must be 1 to 200 characters.');
  return trimmed;
}

function checkSlug(slug: string): string {
  if (!SLUG.test(slug)) throw new InvalidInputError('slug', 'A slug has 2 to 64 lower-case letters, digits and dashes, and starts and ends with a letter or digit.');
  return slug;
}

/** "Acme Corp." → "acme-corp": letters without their accents, other characters as single dashes. */
export function slugFromName(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 64)
    .replace(/-+$/, '');
  if (!SLUG.test(slug)) throw new InvalidInputError('slug', 'No slug can be made from this name: give one (2 to 64 lower-case letters, digits and dashes).');
  return slug;
}

const ALREADY_MEMBER = 'The user is a member of this organization already.';

/** Runs a write; a unique violation becomes AlreadyExistsError(field). */
async function unique<T>(field: 'slug' | 'membership', fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isUniqueViolation(error)) throw new AlreadyExistsError(field, 'organization', field === 'membership' ? ALREADY_MEMBER : undefined);
    throw error;
  }
}

export type OrganizationService = ReturnType<typeof createOrganizationService>;

export function createOrganizationService(deps: { db: Db; provider: DatabaseProvider; outbox: Outbox; clock: Clock; ownerPermission: string; store?: OrganizationStore }) {
  const { outbox, clock, ownerPermission } = deps;
  const store = deps.store ?? createOrganizationStore({ db: deps.db, provider: deps.provider });

  /**
   * The ORGANIZATION roles these ids name (absent: the default ones).
   * OrganizationRoleRequiredError lists the ids that name no role or a GLOBAL one.
   */
  async function organizationRoles(tx: Tx, roleIds: readonly string[] | null | undefined): Promise<RoleFacts[]> {
    if (roleIds == null) return store.findDefaultOrganizationRoles(tx);
    const ids = [...new Set(roleIds.map(String))];
    const found = await store.findRoles(tx, ids);
    const bad = ids.filter((id) => !found.some((r) => r.id === id && r.scope === 'ORGANIZATION'));
    if (bad.length) throw new OrganizationRoleRequiredError(bad);
    return found.sort((a, b) => a.key.localeCompare(b.key));
  }

  async function lockedOrganization(tx: Tx, id: string) {
    const org = await store.lockOrganization(tx, id);
    if (!org) throw new NotFoundError('organization');
    return org;
  }

  async function membershipOf(tx: Tx, organizationId: string, userId: string) {
    const m = await store.findMembership(tx, organizationId, userId);
    if (!m) throw new NotFoundError('membership');
    return m;
  }

  /** LastOwnerError when `userId` is the only member holding the owner permission and would stop holding it. */
  async function assertNotLastOwner(tx: Tx, organizationId: string, userId: string, keepsOwnerPermission: boolean) {
    if (keepsOwnerPermission) return;
    const holders = await store.findPermissionHolders(tx, organizationId, ownerPermission);
    if (holders.length === 1 && holders[0] === userId) throw new LastOwnerError(ownerPermission, organizationId);
  }

  /**
   * Makes the user a member with these roles, inside the caller's transaction
   * (which holds the organization lock). An existing member: with
   * `addRolesToExisting` the roles it lacks are added (member_roles_updated),
   * otherwise it is left alone. Returns the membership and whether it is new.
   */
  async function join(
    tx: Tx,
    org: Pick<Organization, 'id' | 'name' | 'slug'>,
    userId: string,
    roles: RoleFacts[],
    options: { via: JoinedVia; addRolesToExisting: boolean },
    meta: RequestMeta,
  ): Promise<{ membershipId: string; created: boolean }> {
    const existing = await store.findMembership(tx, org.id, userId);
    if (existing) {
      if (!options.addRolesToExisting) return { membershipId: existing.id, created: false };
      const held = existing.roles.map((r) => r.role);
      const added = roles.filter((r) => !held.some((h) => h.id === r.id));
      if (added.length) {
        await store.changeMembershipRoles(tx, existing.id, { add: added.map((r) => r.id), remove: [] });
        await outbox.record(
          tx,
          {
            type: 'organization.member_roles_updated',
            organizationId: org.id,
            userId,
            data: { organization: organizationPayload(org), membership: membershipPayload(existing, [...held, ...added]), added: added.map((r) => r.key), removed: [] },
          },
          meta,
        );
      }
      return { membershipId: existing.id, created: false };
    }
    const membership = await store.insertMembership(tx, { organizationId: org.id, userId, roleIds: roles.map((r) => r.id), now: clock.now() });
    await outbox.record(
      tx,
      { type: 'organization.member_added', organizationId: org.id, userId, data: { organization: organizationPayload(org), membership: membershipPayload(membership, roles), via: options.via } },
      meta,
    );
    return { membershipId: membership.id, created: true };
  }

  /** member_removed for a membership just deleted. */
  function recordRemoved(tx: Tx, org: Pick<Organization, 'id' | 'name' | 'slug'>, membership: Membership & { roles: Array<{ role: RoleFacts }> }, via: RemovedVia, meta: RequestMeta) {
    const roles = membership.roles.map((r) => r.role);
    return outbox.record(
      tx,
      {
        type: 'organization.member_removed',
        organizationId: org.id,
        userId: membership.userId,
        data: { organization: organizationPayload(org), membership: membershipPayload(membership, roles), via },
      },
      meta,
    );
  }

  return {
    store,
    organizationRoles,
    lockedOrganization,
    join,
    /** The permission the owner rule keeps a holder of (config.organizations.ownerPermission). */
    ownerPermission,

    /**
     * Before a user is deleted, inside deleteUser's transaction (the users
     * service's onUserDeleting): leaves every organization it is a member of
     * as removeMember does, so none is left without an owner (LastOwnerError
     * naming the first such organization, and nothing is deleted) and each
     * records organization.member_removed (via user_deleted) instead of the
     * membership vanishing by the foreign key's cascade.
     */
    async removeMembershipsOfDeletedUser(tx: Tx, userId: string, meta: RequestMeta): Promise<void> {
      // The user's row first: from here no membership of it can be added, so the set read below is the whole of it.
      if (!(await store.lockUser(tx, userId))) return;
      const orgs = await store.lockOrganizations(tx, await store.findOrganizationIdsOfUser(tx, userId));
      for (const org of orgs) {
        // Read under the organization's lock: a concurrent removal or role change may have landed meanwhile.
        // One membership at a time: the user may be in tens of thousands, and this stops at the first it may not leave.
        const membership = await store.findMembership(tx, org.id, userId);
        if (!membership) continue;
        await assertNotLastOwner(tx, org.id, userId, false);
        await store.deleteMembership(tx, membership.id);
        await recordRemoved(tx, org, membership, 'user_deleted', meta);
      }
    },

    /** Locks these organizations in id order (the order every writer of several follows). */
    lockOrganizations: (tx: Tx, ids: readonly string[]) => store.lockOrganizations(tx, ids),

    /**
     * For setRolePermissions taking the owner permission from an
     * ORGANIZATION role, which it holds locked: LastOwnerError when some
     * organization's members hold the permission only through this role.
     * `locked` are the organizations the transaction locked before the role;
     * when members hold the role in others, OrganizationsToLockError names
     * them all, to lock first in a new transaction (a membership writer
     * locks its organization before the roles, so locking one after the role
     * could deadlock).
     */
    async assertOwnersKeptWithoutRole(tx: Tx, roleId: string, locked: readonly string[]): Promise<void> {
      const holding = await store.findOrganizationsWithRole(tx, roleId);
      const lockedIds = new Set(locked);
      if (holding.some((id) => !lockedIds.has(id))) throw new OrganizationsToLockError(holding);
      const orphaned = await store.findOrganizationsHoldingPermissionOnlyThrough(tx, roleId, ownerPermission);
      if (orphaned.length) {
        const [first] = orphaned;
        const more = orphaned.length > 1 ? ` and ${orphaned.length - 1} other organization(s)` : '';
        throw new LastOwnerError(
          ownerPermission,
          first,
          `The members of organization ${first}${more} hold ${ownerPermission} only through this role: give it to a member through another role first.`,
        );
      }
    },

    /** Creates an organization; the slug is derived from the name when absent. Throws InvalidInputError, AlreadyExistsError('slug'). */
    async createOrganization(input: OrganizationInput & { name: string }, meta: RequestMeta): Promise<Organization> {
      const name = checkName(input.name);
      const slug = input.slug != null ? checkSlug(input.slug) : slugFromName(name);
      const { next } = metadataColumns(null, { public: input.publicMetadata, private: input.privateMetadata }, 'REPLACE', inputFields);
      const [publicMetadata, privateMetadata] = [next.public, next.private];
      return unique('slug', () =>
        outbox.transaction(async (tx) => {
          const org = await store.insertOrganization(tx, { name, slug, publicMetadata, privateMetadata, now: clock.now() });
          await outbox.record(tx, { type: 'organization.created', organizationId: org.id, data: { organization: organizationPayload(org) } }, meta);
          return org;
        }),
      );
    },

    /** Fields left out are unchanged; metadata given replaces the stored object. */
    async updateOrganization(id: string, input: OrganizationInput, meta: RequestMeta): Promise<Organization> {
      const changes: OrganizationChanges = { updatedAt: clock.now() };
      if (input.name != null) changes.name = checkName(input.name);
      if (input.slug != null) changes.slug = checkSlug(input.slug);
      const metadata = { public: input.publicMetadata, private: input.privateMetadata };
      return unique('slug', () =>
        outbox.transaction(async (tx) => {
          if (metadata.public != null || metadata.private != null) {
            // The size limit counts the part not given: read it under the organization's lock.
            await lockedOrganization(tx, id);
            const stored = await store.findOrganizationMetadata(tx, id);
            // Written as given even when equal, as before: updateOrganization's `changes` name the fields given.
            const { next } = metadataColumns(stored, metadata, 'REPLACE', inputFields);
            if (metadata.public != null) changes.publicMetadata = next.public;
            if (metadata.private != null) changes.privateMetadata = next.private;
          }
          const org = await store.updateOrganization(tx, id, changes);
          if (!org) throw new NotFoundError('organization');
          const fields = Object.keys(changes).filter((k) => k !== 'updatedAt');
          await outbox.record(tx, { type: 'organization.updated', organizationId: org.id, data: { organization: organizationPayload(org), changes: fields } }, meta);
          return org;
        }),
      );
    },

    /**
     * Changes an organization's metadata as updateUserMetadata does a user's:
     * each part given is merged (MERGE, the default: RFC 7396) or replaced
     * (REPLACE), under the organization's lock, so concurrent merges all land.
     * Records organization.updated with the changed columns when a part
     * changed. Throws NotFoundError('organization'), InvalidInputError
     * (naming public or private).
     */
    async updateOrganizationMetadata(input: OrganizationMetadataInput, meta: RequestMeta): Promise<{ organizationId: string; changed: OrganizationMetadataPart[] }> {
      const mode = input.mode ?? 'MERGE';
      return outbox.transaction(async (tx) => {
        const org = await lockedOrganization(tx, input.organizationId);
        const stored = await store.findOrganizationMetadata(tx, org.id);
        const { columns } = metadataColumns(stored, { public: input.public, private: input.private }, mode, { public: 'public', private: 'private' });
        const changed = (Object.keys(COLUMN) as OrganizationMetadataPart[]).filter((part) => columns[COLUMN[part]] !== undefined);
        if (changed.length === 0) return { organizationId: org.id, changed };
        const updated = await store.updateOrganization(tx, org.id, { ...columns, updatedAt: clock.now() });
        await outbox.record(
          tx,
          { type: 'organization.updated', organizationId: org.id, data: { organization: organizationPayload(updated ?? org), changes: changed.map((p) => COLUMN[p]) } },
          meta,
        );
        return { organizationId: org.id, changed };
      });
    },

    /** Deletes the organization; its memberships, invitations and domains go with it. */
    async deleteOrganization(id: string, meta: RequestMeta): Promise<{ id: string }> {
      await outbox.transaction(async (tx) => {
        const org = await store.deleteOrganization(tx, id);
        if (!org) throw new NotFoundError('organization');
        await outbox.record(tx, { type: 'organization.deleted', organizationId: org.id, data: { organization: organizationPayload(org) } }, meta);
      });
      return { id };
    },

    /**
     * Adds a user with these ORGANIZATION roles (absent: the default ones).
     * Throws NotFoundError('organization'), UserNotFoundError,
     * OrganizationRoleRequiredError, AlreadyExistsError('membership').
     */
    async addMember(input: { organizationId: string; userId: string; roleIds?: readonly string[] | null }, meta: RequestMeta): Promise<{ membershipId: string }> {
      return unique('membership', () =>
        outbox.transaction(async (tx) => {
          const org = await lockedOrganization(tx, input.organizationId);
          if (!(await store.findUserEmail(tx, input.userId))) throw new UserNotFoundError(input.userId);
          const roles = await organizationRoles(tx, input.roleIds);
          if (await store.findMembership(tx, org.id, input.userId)) throw new AlreadyExistsError('membership', 'organization', ALREADY_MEMBER);
          const { membershipId } = await join(tx, org, input.userId, roles, { via: 'admin', addRolesToExisting: false }, meta);
          return { membershipId };
        }),
      );
    },

    /** Replaces a member's roles. Throws NotFoundError, OrganizationRoleRequiredError, LastOwnerError. */
    async updateMemberRoles(input: { organizationId: string; userId: string; roleIds: readonly string[] }, meta: RequestMeta): Promise<{ membershipId: string }> {
      return outbox.transaction(async (tx) => {
        const org = await lockedOrganization(tx, input.organizationId);
        const membership = await membershipOf(tx, org.id, input.userId);
        const roles = await organizationRoles(tx, input.roleIds);
        // Whether the new roles grant the owner permission must stay true until this commits (setRolePermissions waits).
        await store.shareLockRoles(tx, roles.map((r) => r.id));
        await assertNotLastOwner(tx, org.id, input.userId, await store.rolesGrant(tx, roles.map((r) => r.id), ownerPermission));
        const held = membership.roles.map((r) => r.role);
        const add = roles.filter((r) => !held.some((h) => h.id === r.id));
        const remove = held.filter((h) => !roles.some((r) => r.id === h.id));
        if (add.length || remove.length) {
          await store.changeMembershipRoles(tx, membership.id, { add: add.map((r) => r.id), remove: remove.map((r) => r.id) });
          await outbox.record(
            tx,
            {
              type: 'organization.member_roles_updated',
              organizationId: org.id,
              userId: input.userId,
              data: { organization: organizationPayload(org), membership: membershipPayload(membership, roles), added: add.map((r) => r.key), removed: remove.map((r) => r.key) },
            },
            meta,
          );
        }
        return { membershipId: membership.id };
      });
    },

    /** Removes a member. Throws NotFoundError, LastOwnerError. */
    async removeMember(input: { organizationId: string; userId: string }, meta: RequestMeta): Promise<{ organizationId: string; userId: string }> {
      await outbox.transaction(async (tx) => {
        const org = await lockedOrganization(tx, input.organizationId);
        const membership = await membershipOf(tx, org.id, input.userId);
        await assertNotLastOwner(tx, org.id, input.userId, false);
        await store.deleteMembership(tx, membership.id);
        await recordRemoved(tx, org, membership, 'admin', meta);
      });
      return { organizationId: input.organizationId, userId: input.userId };
    },

    listOrganizations(query: OrganizationPageQuery, filter: OrganizationListFilter | null | undefined) {
      return store.findOrganizationPage(query, filter ?? {});
    },

    countOrganizations(filter: OrganizationListFilter | null | undefined) {
      return store.countOrganizations(filter ?? {});
    },

    /** The `where` of Organization.members (a relation read merged into the organization's query). */
    memberWhere(filter: MemberListFilter | null | undefined) {
      return memberListWhere(deps.provider, filter ?? {});
    },
  };
}
