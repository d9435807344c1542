/**
 * Email domains of organizations, and just-in-time membership: once a domain
 * is verified with autoJoin, users whose email at that domain becomes
 * verified join the organization with the domain's roles (none named: the
 * default ORGANIZATION roles).
 *
 * A domain is verified by an admin's word (the API key), or by proof of
 * control: a member whose verified email is at the domain (the gateway's
 * email verification is the proof).
 *
 * Joining runs as a fan-out consumer of committed user events
 * (user.created with a verified email, user.email_verified): once across
 * instances, in log order, and idempotent, as a lease hand-over may repeat
 * events: an existing membership is left alone.
 */
import type { Db } from '../../kernel/db/client.js';
import { isUniqueViolation } from '../../kernel/db/client.js';
import type { OrganizationDomain } from '../../kernel/db/models.js';
import type { RelayedEvent } from '../../kernel/events/pubsub.js';
import { systemMeta, type RequestMeta } from '../../kernel/events/outbox.js';
import type { Clock } from '../../kernel/clock.js';
import { AlreadyExistsError, InvalidInputError, InvalidStateError, NotFoundError, UserNotFoundError } from '../../kernel/errors.js';
import type { Outbox } from '../catalog.js';
import { EmailNotVerifiedError } from '../users/errors.js';
import { organizationPayload, type OrganizationService } from './organizations.js';
import type { DomainChanges, RoleFacts } from './organizations.store.js';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** "Example.COM." → "example.com"; InvalidInputError unless it is a host name with at least two labels. */
export function normalizeDomain(raw: string): string {
  const domain = raw.trim().toLowerCase().replace(/\.$/, '');
  const labels = domain.split('.');
  if (domain.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^[0-9]+$/.test(labels.at(-1)!)) {
    throw new InvalidInputError('domain', 'Not a domain name (such as example.com).');
  }
  return domain;
}

/** The domain of an email address, lower-case. */
const domainOf = (email: string) => email.slice(email.lastIndexOf('@') + 1).toLowerCase();

/** Events after which a user may have a newly verified email. */
function verifiedEmailUserIds(events: RelayedEvent[]): string[] {
  const ids = new Set<string>();
  for (const e of events) {
    if (!e.userId) continue;
    if (e.type === 'user.email_verified') ids.add(e.userId);
    else if (e.type === 'user.created' && (e.data as { user?: { emailVerified?: boolean } } | null)?.user?.emailVerified) ids.add(e.userId);
  }
  return [...ids];
}

export type DomainService = ReturnType<typeof createDomainService>;

export function createDomainService(deps: { db: Db; outbox: Outbox; clock: Clock; organizations: OrganizationService }) {
  const { outbox, clock, organizations } = deps;
  const store = organizations.store;

  const domainPayload = (d: OrganizationDomain, roles: RoleFacts[]) => ({
    id: d.id,
    domain: d.domain,
    verified: d.verifiedAt !== null,
    autoJoin: d.autoJoin,
    roles: roles.map((r) => r.key).sort(),
  });
  const roleIdsOf = (d: Pick<OrganizationDomain, 'roleIds'>) => (d.roleIds as string[] | null) ?? [];
  /** The domain's roles that still exist as ORGANIZATION roles. */
  const rolesOf = async (tx: Parameters<typeof store.findRoles>[0], d: OrganizationDomain) =>
    (await store.findRoles(tx, roleIdsOf(d))).filter((r) => r.scope === 'ORGANIZATION');

  async function findDomain(id: string): Promise<OrganizationDomain> {
    const d = await store.findDomain(deps.db, id);
    if (!d) throw new NotFoundError('domain');
    return d;
  }

  return {
    /**
     * Adds an unverified domain. roleIds: ORGANIZATION roles given to members
     * who join by it (empty or absent: the default ones at join time).
     * Throws NotFoundError, InvalidInputError, OrganizationRoleRequiredError, AlreadyExistsError('domain').
     */
    async addDomain(input: { organizationId: string; domain: string; autoJoin?: boolean | null; roleIds?: readonly string[] | null }, meta: RequestMeta): Promise<OrganizationDomain> {
      const domain = normalizeDomain(input.domain);
      try {
        return await outbox.transaction(async (tx) => {
          const org = await organizations.lockedOrganization(tx, input.organizationId);
          const roles = input.roleIds?.length ? await organizations.organizationRoles(tx, input.roleIds) : [];
          const row = await store.insertDomain(tx, { organizationId: org.id, domain, autoJoin: input.autoJoin ?? false, roleIds: roles.map((r) => r.id), now: clock.now() });
          await outbox.record(tx, { type: 'organization.domain_added', organizationId: org.id, data: { organization: organizationPayload(org), domain: domainPayload(row, roles) } }, meta);
          return row;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new AlreadyExistsError('domain', 'organization', 'The organization has this domain already.');
        throw error;
      }
    },

    /**
     * Verifies a domain: without userId on the caller's word (an API key);
     * with userId by a member of the organization whose verified email is at
     * the domain. Throws NotFoundError (domain, membership), UserNotFoundError,
     * EmailNotVerifiedError, InvalidInputError('userId'), InvalidStateError (verified already).
     */
    async verifyDomain(input: { id: string; userId?: string | null }, meta: RequestMeta): Promise<OrganizationDomain> {
      const d = await findDomain(input.id);
      if (d.verifiedAt) throw new InvalidStateError('The domain is verified already.', 'VERIFIED');
      if (input.userId) {
        const user = await store.findUserEmail(deps.db, input.userId);
        if (!user) throw new UserNotFoundError(input.userId);
        if (!(await store.findMembership(deps.db, d.organizationId, user.id))) throw new NotFoundError('membership');
        if (!user.emailVerifiedAt || !user.emailNormalized) throw new EmailNotVerifiedError('The user has no verified email address to prove control of the domain with.');
        if (domainOf(user.emailNormalized) !== d.domain) throw new InvalidInputError('userId', "The user's verified email address is not at this domain.");
      }
      return outbox.transaction(async (tx) => {
        const org = await organizations.lockedOrganization(tx, d.organizationId);
        const row = await store.markDomainVerified(tx, d.id, clock.now());
        if (!row) throw new InvalidStateError('The domain is verified already.', 'VERIFIED');
        await outbox.record(
          tx,
          {
            type: 'organization.domain_verified',
            organizationId: org.id,
            data: { organization: organizationPayload(org), domain: domainPayload(row, await rolesOf(tx, row)), method: input.userId ? 'email' : 'admin' },
          },
          meta,
        );
        return row;
      });
    },

    /** Changes autoJoin or the roles of a domain (fields left out unchanged); records organization.domain_updated. */
    async updateDomain(input: { id: string; autoJoin?: boolean | null; roleIds?: readonly string[] | null }, meta: RequestMeta): Promise<OrganizationDomain> {
      const d = await findDomain(input.id);
      return outbox.transaction(async (tx) => {
        const org = await organizations.lockedOrganization(tx, d.organizationId);
        const changes: DomainChanges = { updatedAt: clock.now() };
        if (input.autoJoin != null) changes.autoJoin = input.autoJoin;
        if (input.roleIds != null) changes.roleIds = input.roleIds.length ? (await organizations.organizationRoles(tx, input.roleIds)).map((r) => r.id) : [];
        const row = await store.updateDomain(tx, d.id, changes);
        if (!row) throw new NotFoundError('domain');
        const fields = Object.keys(changes).filter((k) => k !== 'updatedAt');
        await outbox.record(
          tx,
          { type: 'organization.domain_updated', organizationId: org.id, data: { organization: organizationPayload(org), domain: domainPayload(row, await rolesOf(tx, row)), changes: fields } },
          meta,
        );
        return row;
      });
    },

    async removeDomain(id: string, meta: RequestMeta): Promise<{ id: string }> {
      const d = await findDomain(id);
      await outbox.transaction(async (tx) => {
        const org = await organizations.lockedOrganization(tx, d.organizationId);
        const row = await store.deleteDomain(tx, id);
        if (!row) throw new NotFoundError('domain');
        await outbox.record(tx, { type: 'organization.domain_removed', organizationId: org.id, data: { organization: organizationPayload(org), domain: domainPayload(row, await rolesOf(tx, row)) } }, meta);
      });
      return { id };
    },

    /**
     * The fan-out consumer: users whose email became verified join the
     * organizations with a verified autoJoin domain at their email's domain.
     * Reads the users' current state (an email changed since is not joined by
     * its old domain). Returns how many memberships it made.
     */
    async joinByVerifiedEmail(events: RelayedEvent[]): Promise<number> {
      const userIds = verifiedEmailUserIds(events);
      if (userIds.length === 0) return 0;
      const users = await store.findVerifiedEmails(userIds);
      const byDomain = new Map<string, OrganizationDomain[]>();
      let joined = 0;
      for (const user of users) {
        if (!user.emailNormalized) continue;
        const at = domainOf(user.emailNormalized);
        if (!byDomain.has(at)) byDomain.set(at, await store.findAutoJoinDomains(at));
        for (const d of byDomain.get(at)!) {
          const created = await outbox.transaction(async (tx) => {
            const org = await store.lockOrganization(tx, d.organizationId);
            if (!org) return false;
            const roles = roleIdsOf(d).length ? await rolesOf(tx, d) : await store.findDefaultOrganizationRoles(tx);
            return (await organizations.join(tx, org, user.id, roles, { via: 'domain', addRolesToExisting: false }, systemMeta)).created;
          });
          if (created) joined++;
        }
      }
      return joined;
    },
  };
}
