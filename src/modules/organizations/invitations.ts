/**
 * Invitations to join an organization. The token is random (256 bits),
 * shown once (returned, or sent in a link) and stored as its SHA-256, so it
 * is looked up by its hash and never kept or logged in the clear.
 *
 * One pending invitation per organization and email: the database's unique
 * pendingSlot decides, so concurrent creations agree. Accepting is a
 * conditional PENDING → ACCEPTED update in the transaction that adds the
 * membership: of concurrent accepts, one wins.
 */
import type { Db, Tx } from '../../kernel/db/client.js';
import { isUniqueViolation } from '../../kernel/db/client.js';
import type { OrganizationInvitation } from '../../kernel/db/models.js';
import type { Delivery } from '../../kernel/delivery/index.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Clock } from '../../kernel/clock.js';
import { tokenHash } from '../../kernel/crypto.js';
import { AlreadyExistsError, assertThat, InvalidInputError, InvalidStateError, NotFoundError, UserNotFoundError } from '../../kernel/errors.js';
import { randomSecret } from '../../kernel/ids.js';
import type { Outbox } from '../catalog.js';
import { EmailNotVerifiedError } from '../users/errors.js';
import { normalizeEmail } from '../users/input.js';
import {
  InvitationAlreadyAcceptedError,
  InvitationEmailMismatchError,
  InvitationExpiredError,
  InvitationNotFoundError,
  InvitationRevokedError,
} from './errors.js';
import { organizationPayload, type OrganizationService } from './organizations.js';
import type { RoleFacts } from './organizations.store.js';

export const INVITATION_DEFAULT_TTL_SECONDS = 7 * 86_400;
export const INVITATION_MAX_TTL_SECONDS = 30 * 86_400;
const INVITATION_MIN_TTL_SECONDS = 60;
/** How often the leader looks for overdue invitations, and how many it ends per look. */
const EXPIRY_SWEEP_EVERY_MS = 5_000;
const EXPIRY_BATCH = 100;

export type InvitationDelivery = 'SEND' | 'RETURN';

const invitationPayload = (inv: Pick<OrganizationInvitation, 'id' | 'email' | 'expiresAt'>, roles: RoleFacts[]) => ({
  id: inv.id,
  email: inv.email,
  roles: roles.map((r) => r.key).sort(),
  expiresAt: inv.expiresAt.toISOString(),
});

/** The link of an invitation: the template with its placeholders filled in (URL-encoded). */
export function invitationLink(template: string, token: string, invitationId: string): string {
  return template.replace(/\{token\}/g, encodeURIComponent(token)).replace(/\{invitationId\}/g, encodeURIComponent(invitationId));
}

/** The error a token holder gets for an invitation that is no longer pending. */
function notPending(inv: Pick<OrganizationInvitation, 'status' | 'expiresAt'>, now: Date): Error | null {
  if (inv.status === 'ACCEPTED') return new InvitationAlreadyAcceptedError();
  if (inv.status === 'REVOKED') return new InvitationRevokedError();
  // Overdue is expired, whether or not the expiry chore has marked it yet.
  if (inv.status === 'EXPIRED' || inv.expiresAt <= now) return new InvitationExpiredError();
  return null;
}

export type InvitationService = ReturnType<typeof createInvitationService>;

export function createInvitationService(deps: {
  db: Db;
  outbox: Outbox;
  clock: Clock;
  delivery: Delivery;
  organizations: OrganizationService;
  /** PORTCULLIS_INVITATION_LINK_URL ({token}, {invitationId}); absent: SEND is refused. */
  linkUrl?: string;
}) {
  const { outbox, clock, organizations } = deps;
  const store = organizations.store;
  let lastExpirySweep = 0;

  /** The invitation's roles that still exist as ORGANIZATION roles (roles deleted since are ignored). */
  async function rolesOf(tx: Tx | Db, inv: Pick<OrganizationInvitation, 'roleIds'>): Promise<RoleFacts[]> {
    const ids = (inv.roleIds as string[] | null) ?? [];
    return (await store.findRoles(tx, ids)).filter((r) => r.scope === 'ORGANIZATION');
  }

  /** Records the expiry of `inv`, ended in this transaction (which holds the organization lock). */
  async function recordExpired(tx: Tx, org: Parameters<typeof organizationPayload>[0], inv: OrganizationInvitation, meta: RequestMeta) {
    await outbox.record(
      tx,
      { type: 'organization.invitation_expired', organizationId: org.id, data: { organization: organizationPayload(org), invitation: invitationPayload(inv, await rolesOf(tx, inv)) } },
      meta,
    );
  }

  return {
    /**
     * Invites an email address to an organization with these ORGANIZATION
     * roles (absent: the default ones). SEND emails the link (needs
     * PORTCULLIS_INVITATION_LINK_URL) and returns no token; RETURN returns the
     * token, and the link when a template is configured. An overdue pending
     * invitation for the same address is marked EXPIRED and replaced.
     * Throws NotFoundError, InvalidInputError, OrganizationRoleRequiredError,
     * AlreadyExistsError('invitation'), InvalidStateError (SEND without a
     * link template), DeliveryFailedError (the invitation is then revoked).
     */
    async createInvitation(
      input: { organizationId: string; email: string; roleIds?: readonly string[] | null; expiresInSeconds?: number | null; delivery: InvitationDelivery },
      meta: RequestMeta,
    ): Promise<{ invitation: OrganizationInvitation; token: string | null; link: string | null }> {
      const email = normalizeEmail(input.email).emailNormalized;
      const ttl = input.expiresInSeconds ?? INVITATION_DEFAULT_TTL_SECONDS;
      if (!Number.isInteger(ttl) || ttl < INVITATION_MIN_TTL_SECONDS || ttl > INVITATION_MAX_TTL_SECONDS) {
        throw new InvalidInputError('expiresInSeconds', `expiresInSeconds must be from ${INVITATION_MIN_TTL_SECONDS} to ${INVITATION_MAX_TTL_SECONDS} (30 days).`);
      }
      if (input.delivery === 'SEND' && !deps.linkUrl) {
        throw new InvalidStateError('This gateway has no PORTCULLIS_INVITATION_LINK_URL to build invitation links from: set it, or use delivery RETURN and deliver the token yourself.');
      }
      const token = randomSecret(32);
      const now = clock.now();
      const { invitation, org } = await unique(() =>
        outbox.transaction(async (tx) => {
          const org = await organizations.lockedOrganization(tx, input.organizationId);
          const roles = await organizations.organizationRoles(tx, input.roleIds);
          const overdue = await store.expireOverdueInSlot(tx, `${org.id}:${email}`, now);
          if (overdue) await recordExpired(tx, org, overdue, meta);
          const invitation = await store.insertInvitation(tx, {
            organizationId: org.id,
            email,
            roleIds: roles.map((r) => r.id),
            tokenHash: tokenHash(token),
            expiresAt: new Date(now.getTime() + ttl * 1000),
            inviterType: meta.actor.type,
            inviterId: meta.actor.id ?? null,
            now,
          });
          await outbox.record(
            tx,
            { type: 'organization.invitation_created', organizationId: org.id, data: { organization: organizationPayload(org), invitation: invitationPayload(invitation, roles), delivery: input.delivery } },
            meta,
          );
          return { invitation, org };
        }),
      );
      const link = deps.linkUrl ? invitationLink(deps.linkUrl, token, invitation.id) : null;
      if (input.delivery === 'RETURN') return { invitation, token, link };
      try {
        await deps.delivery.send({ channel: 'email', to: email, template: 'organization_invitation', params: { code: token, link: link!, ttlSeconds: ttl, organizationName: org.name } });
      } catch (error) {
        // Nobody received the token: withdraw the invitation, so a new one can be sent.
        await outbox.transaction(async (tx) => {
          if (await store.endInvitation(tx, invitation.id, 'REVOKED', clock.now())) {
            await outbox.record(
              tx,
              { type: 'organization.invitation_revoked', organizationId: org.id, data: { organization: organizationPayload(org), invitation: invitationPayload(invitation, await rolesOf(tx, invitation)) } },
              meta,
            );
          }
        });
        throw error;
      }
      return { invitation, token: null, link: null };
    },

    /**
     * The signed-in user (meta.actor) accepts with the token: their verified
     * email must be the invitee's. They become a member with the invitation's
     * roles (an existing member gets the roles it lacks), in the transaction
     * that marks it ACCEPTED. Throws InvitationNotFoundError,
     * InvitationExpiredError, InvitationRevokedError,
     * InvitationAlreadyAcceptedError, EmailNotVerifiedError,
     * InvitationEmailMismatchError.
     */
    async acceptInvitation(token: string, meta: RequestMeta): Promise<{ invitationId: string; membershipId: string }> {
      assertThat(meta.actor.type === 'user' && meta.actor.id, () => new InvalidStateError('Only a signed-in user accepts an invitation, with their own access token.'));
      const userId = meta.actor.id!;
      const inv = await store.findInvitationByTokenHash(tokenHash(token));
      if (!inv) throw new InvitationNotFoundError();
      const refused = notPending(inv, clock.now());
      if (refused) throw refused;
      const user = await store.findUserEmail(deps.db, userId);
      if (!user) throw new UserNotFoundError(userId);
      if (!user.emailVerifiedAt || !user.emailNormalized) throw new EmailNotVerifiedError('Verify your email address first: the invitation is accepted with a verified address.');
      if (user.emailNormalized !== inv.email) throw new InvitationEmailMismatchError();
      return outbox.transaction(async (tx) => {
        const org = await store.lockOrganization(tx, inv.organizationId);
        if (!org) throw new InvitationNotFoundError();
        const now = clock.now();
        if (!(await store.acceptInvitation(tx, inv.id, userId, now))) {
          // Another accept (or a revoke, or the expiry) came first.
          const current = await store.findInvitation(tx, inv.id);
          throw (current && notPending(current, now)) ?? new InvitationNotFoundError();
        }
        const roles = await rolesOf(tx, inv);
        const { membershipId } = await organizations.join(tx, org, userId, roles, { via: 'invitation', addRolesToExisting: true }, meta);
        await outbox.record(
          tx,
          { type: 'organization.invitation_accepted', organizationId: org.id, userId, data: { organization: organizationPayload(org), invitation: invitationPayload(inv, roles), userId } },
          meta,
        );
        return { invitationId: inv.id, membershipId };
      });
    },

    /** Revokes a pending invitation. Throws NotFoundError, InvalidStateError (no longer pending). */
    async revokeInvitation(id: string, meta: RequestMeta): Promise<{ invitationId: string }> {
      await outbox.transaction(async (tx) => {
        const inv = await store.findInvitation(tx, id);
        if (!inv) throw new NotFoundError('invitation');
        const org = await organizations.lockedOrganization(tx, inv.organizationId);
        if (!(await store.endInvitation(tx, id, 'REVOKED', clock.now()))) {
          const current = await store.findInvitation(tx, id);
          throw new InvalidStateError(`The invitation is ${(current?.status ?? inv.status).toLowerCase()}, not pending.`, current?.status ?? inv.status);
        }
        await outbox.record(
          tx,
          { type: 'organization.invitation_revoked', organizationId: org.id, data: { organization: organizationPayload(org), invitation: invitationPayload(inv, await rolesOf(tx, inv)) } },
          meta,
        );
      });
      return { invitationId: id };
    },

    /**
     * Marks overdue pending invitations EXPIRED (organization.invitation_expired):
     * the leader's chore, at most every 5 s unless `force`. Returns how many it ended.
     */
    async expireOverdueInvitations(options: { force?: boolean } = {}): Promise<number> {
      const now = clock.now();
      if (!options.force && now.getTime() - lastExpirySweep < EXPIRY_SWEEP_EVERY_MS) return 0;
      lastExpirySweep = now.getTime();
      let ended = 0;
      for (const inv of await store.findOverdueInvitations(now, EXPIRY_BATCH)) {
        // The organization first, as every membership writer locks it: no deadlock with an accept.
        const done = await outbox.transaction(async (tx) => {
          const org = await store.lockOrganization(tx, inv.organizationId);
          if (!org || !(await store.endInvitation(tx, inv.id, 'EXPIRED', now))) return false;
          await recordExpired(tx, org, inv, { actor: { type: 'system' } });
          return true;
        });
        if (done) ended++;
      }
      return ended;
    },
  };
}

/** Runs a write; a second pending invitation for the same organization and email is AlreadyExistsError('invitation'). */
async function unique<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isUniqueViolation(error)) throw new AlreadyExistsError('invitation', 'organization', 'A pending invitation for this email to this organization exists already: revoke it first, or let it expire.');
    throw error;
  }
}
