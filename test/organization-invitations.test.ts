/**
 * Invitations and domains through the API. Invitations: RETURN gives the
 * token and link once, SEND emails the link (PORTCULLIS_INVITATION_LINK_URL);
 * one pending invitation per organization and address (under concurrency
 * too), an overdue one replaced; accepting makes a member with the
 * invitation's roles (deleted roles ignored; an existing member gains them);
 * revoking; the leader's chore expiring overdue ones. Domains: added,
 * verified by an admin or by a member's verified email at the domain,
 * updated, removed; a user whose email becomes verified at a verified
 * autoJoin domain joins (fan-out of committed events), once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { codeSink } from './helpers/code-sink.js';
import { seed, seedRole } from './helpers/seed.js';

const CreateOrg = graphql(`
  mutation InvCreateOrg($input: CreateOrganizationInput!) {
    createOrganization(input: $input) { __typename ... on CreateOrganizationSuccess { organization { id } } }
  }
`);
const AddMember = graphql(`
  mutation InvAddMember($input: AddOrganizationMemberInput!) {
    addOrganizationMember(input: $input) { __typename ... on Error { code } }
  }
`);
const Invite = graphql(`
  mutation InvInvite($input: CreateOrganizationInvitationInput!) {
    createOrganizationInvitation(input: $input) {
      __typename
      ... on CreateOrganizationInvitationSuccess { token link invitation { id email status expiresAt roles { key } organization { id } acceptedAt acceptedUser { id } } }
      ... on InvalidInputError { field }
      ... on Error { code message }
    }
  }
`);
const Accept = graphql(`
  mutation InvAccept($input: AcceptOrganizationInvitationInput!) {
    acceptOrganizationInvitation(input: $input) {
      __typename
      ... on AcceptOrganizationInvitationSuccess { membership { id organization { id } user { id } roles { key } } }
      ... on Error { code message }
    }
  }
`);
const Revoke = graphql(`
  mutation InvRevoke($input: RevokeOrganizationInvitationInput!) {
    revokeOrganizationInvitation(input: $input) { __typename ... on RevokeOrganizationInvitationSuccess { invitation { status } } ... on Error { code } }
  }
`);
const Invitations = graphql(`
  query InvList($id: ID!, $status: InvitationStatus) {
    organization(id: $id) { invitations(status: $status) { id email status acceptedAt acceptedUser { id } roles { key } } }
  }
`);
const CreateUser = graphql(`
  mutation InvCreateUser($input: CreateUserInput!) {
    createUser(input: $input) { __typename ... on CreateUserSuccess { user { id } } ... on Error { code } }
  }
`);
const UpdateUser = graphql(`
  mutation InvUpdateUser($input: UpdateUserInput!) {
    updateUser(input: $input) { __typename ... on Error { code } }
  }
`);
const Memberships = graphql(`
  query InvMemberships($id: ID!) { user(id: $id) { memberships { organization { id } roles { key } } } }
`);
const AddDomain = graphql(`
  mutation InvAddDomain($input: AddOrganizationDomainInput!) {
    addOrganizationDomain(input: $input) {
      __typename
      ... on AddOrganizationDomainSuccess { domain { id domain verified autoJoin roles { key } } }
      ... on InvalidInputError { field }
      ... on Error { code }
    }
  }
`);
const VerifyDomain = graphql(`
  mutation InvVerifyDomain($input: VerifyOrganizationDomainInput!) {
    verifyOrganizationDomain(input: $input) {
      __typename
      ... on VerifyOrganizationDomainSuccess { domain { verified verifiedAt } }
      ... on InvalidInputError { field }
      ... on Error { code }
    }
  }
`);
const UpdateDomain = graphql(`
  mutation InvUpdateDomain($input: UpdateOrganizationDomainInput!) {
    updateOrganizationDomain(input: $input) { __typename ... on UpdateOrganizationDomainSuccess { domain { autoJoin roles { key } } } ... on Error { code } }
  }
`);
const RemoveDomain = graphql(`
  mutation InvRemoveDomain($input: RemoveOrganizationDomainInput!) {
    removeOrganizationDomain(input: $input) { __typename ... on RemoveOrganizationDomainSuccess { removedDomainId } ... on Error { code } }
  }
`);
const Domains = graphql(`
  query InvDomains($id: ID!) { organization(id: $id) { domains { id domain verified autoJoin } } }
`);

const LINK = 'https://app.example.test/join?invitation={invitationId}&token={token}';
const sink = codeSink();
let t: TestApp;
let admin: { id: string };
let editor: { id: string };

beforeAll(async () => {
  t = await createTestApp({ delivery: sink.delivery, env: { PORTCULLIS_INVITATION_LINK_URL: LINK } });
  // The relay runs from start(): the expiry chore and the JIT fan-out are its work.
  await t.app.start();
  admin = await seedRole(t, { key: 'admin', permissions: ['organization:delete'] });
  editor = await seedRole(t, { key: 'editor' });
  await seedRole(t, { key: 'viewer', isDefault: true });
});
afterAll(async () => t?.close());

async function newOrg(name: string): Promise<string> {
  const r = await t.run(CreateOrg, { input: { name } });
  if (r.createOrganization.__typename !== 'CreateOrganizationSuccess') throw new Error(JSON.stringify(r.createOrganization));
  return r.createOrganization.organization.id;
}

async function invite(organizationId: string, email: string, extra: { roleIds?: string[]; expiresInSeconds?: number } = {}) {
  const r = await t.run(Invite, { input: { organizationId, email, delivery: 'RETURN', ...extra } });
  if (r.createOrganizationInvitation.__typename !== 'CreateOrganizationInvitationSuccess') throw new Error(JSON.stringify(r.createOrganizationInvitation));
  return r.createOrganizationInvitation;
}

/** A signed-in user with this email, verified unless said otherwise. */
const signedIn = (email: string, verified = true) => (verified ? seed(t).user({ email }).verified().signedIn() : seed(t).user({ email }).signedIn());
const eventsOf = (organizationId: string) => t.app.database.client.event.findMany({ where: { organizationId }, orderBy: { seq: 'asc' } });

/** Polls (bounded) until `read` returns something truthy. */
async function eventually<T>(read: () => Promise<T>, what: string, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('invitations', () => {
  it('RETURN gives the token and its link once; accepting makes a member with its roles, in one transaction with ACCEPTED', async () => {
    const org = await newOrg('Invite Return');
    const created = await invite(org, '  Ada@Invite.Example ', { roleIds: [editor.id] });
    expect(created.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created.link).toBe(`https://app.example.test/join?invitation=${created.invitation.id}&token=${created.token}`);
    expect(created.invitation).toMatchObject({ id: expect.stringMatching(/^inv_/), email: 'ada@invite.example', status: 'PENDING', roles: [{ key: 'editor' }], organization: { id: org } });
    const days = (Date.parse(created.invitation.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);
    // Stored as its SHA-256 only.
    const row = await t.app.database.client.organizationInvitation.findUniqueOrThrow({ where: { id: created.invitation.id } });
    expect(JSON.stringify(row)).not.toContain(created.token!);

    const ada = await signedIn('ada@invite.example');
    const r = await t.run(Accept, { input: { token: created.token! } }, { token: ada.session!.accessToken });
    expect(r.acceptOrganizationInvitation).toMatchObject({ __typename: 'AcceptOrganizationInvitationSuccess', membership: { organization: { id: org }, user: { id: ada.id }, roles: [{ key: 'editor' }] } });
    const [listed] = (await t.run(Invitations, { id: org })).organization!.invitations;
    expect(listed).toMatchObject({ status: 'ACCEPTED', acceptedUser: { id: ada.id }, acceptedAt: expect.any(String) });
    const types = (await eventsOf(org)).map((e) => [e.type, e.userId]);
    expect(types).toEqual([
      ['organization.created', null],
      ['organization.invitation_created', null],
      ['organization.member_added', ada.id],
      ['organization.invitation_accepted', ada.id],
    ]);
    const added = (await eventsOf(org)).find((e) => e.type === 'organization.member_added')!;
    expect(added.data).toMatchObject({ via: 'invitation', membership: { userId: ada.id, roles: ['editor'] } });
  });

  it('SEND emails the link and returns no token; the token in the link accepts', async () => {
    const org = await newOrg('Invite Send Ltd');
    const before = sink.sent.length;
    const r = await t.run(Invite, { input: { organizationId: org, email: 'bob@invite.example', delivery: 'SEND', expiresInSeconds: 3 * 86_400 } });
    expect(r.createOrganizationInvitation).toMatchObject({ __typename: 'CreateOrganizationInvitationSuccess', token: null, link: null, invitation: { roles: [{ key: 'viewer' }] } });
    expect(sink.sent.slice(before)).toHaveLength(1);
    const message = sink.sent.at(-1)!;
    expect(message).toMatchObject({ channel: 'email', to: 'bob@invite.example', template: 'organization_invitation', subject: 'Portcullis: you are invited to join Invite Send Ltd' });
    expect(message.text).toContain('3 days');
    const link = new URL(message.text.match(/https:\/\/app\.example\.test\/\S+/)![0]);
    const bob = await signedIn('bob@invite.example');
    const accepted = await t.run(Accept, { input: { token: link.searchParams.get('token')! } }, { token: bob.session!.accessToken });
    expect(accepted.acceptOrganizationInvitation).toMatchObject({ __typename: 'AcceptOrganizationInvitationSuccess', membership: { roles: [{ key: 'viewer' }] } });
  });

  it('keeps one pending invitation per organization and address, also under concurrency; checks the lifetime', async () => {
    const org = await newOrg('Invite Once');
    await invite(org, 'once@invite.example');
    const again = await t.run(Invite, { input: { organizationId: org, email: 'ONCE@invite.example', delivery: 'RETURN' } });
    expect(again.createOrganizationInvitation).toMatchObject({ __typename: 'AlreadyExistsError', code: 'ALREADY_EXISTS' });
    const burst = await Promise.all(Array.from({ length: 5 }, () => t.run(Invite, { input: { organizationId: org, email: 'burst@invite.example', delivery: 'RETURN' } })));
    expect(burst.filter((r) => r.createOrganizationInvitation.__typename === 'CreateOrganizationInvitationSuccess')).toHaveLength(1);
    expect(burst.filter((r) => r.createOrganizationInvitation.__typename === 'AlreadyExistsError')).toHaveLength(4);
    for (const expiresInSeconds of [30 * 86_400 + 1, 59]) {
      const r = await t.run(Invite, { input: { organizationId: org, email: 'ttl@invite.example', delivery: 'RETURN', expiresInSeconds } });
      expect(r.createOrganizationInvitation).toMatchObject({ __typename: 'InvalidInputError', field: 'expiresInSeconds' });
    }
    expect((await t.run(Invite, { input: { organizationId: org, email: 'not an email', delivery: 'RETURN' } })).createOrganizationInvitation).toMatchObject({ __typename: 'InvalidInputError' });
    expect((await t.run(Invite, { input: { organizationId: 'org_none', email: 'x@invite.example', delivery: 'RETURN' } })).createOrganizationInvitation).toMatchObject({ __typename: 'NotFoundError' });
  });

  it('replaces an overdue pending invitation (marked EXPIRED) and refuses to accept an overdue one before the chore ran', async () => {
    const org = await newOrg('Invite Overdue');
    const old = await invite(org, 'late@invite.example');
    await t.app.database.client.organizationInvitation.update({ where: { id: old.invitation.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const late = await signedIn('late@invite.example');
    const refused = await t.run(Accept, { input: { token: old.token! } }, { token: late.session!.accessToken });
    expect(refused.acceptOrganizationInvitation).toMatchObject({ __typename: 'InvitationExpiredError', code: 'INVITATION_EXPIRED' });
    const fresh = await invite(org, 'late@invite.example');
    const statuses = (await t.run(Invitations, { id: org })).organization!.invitations.map((i) => [i.id, i.status]);
    expect(statuses).toEqual([
      [fresh.invitation.id, 'PENDING'],
      [old.invitation.id, 'EXPIRED'],
    ]);
    expect((await t.run(Invitations, { id: org, status: 'EXPIRED' })).organization!.invitations.map((i) => i.id)).toEqual([old.invitation.id]);
    expect((await eventsOf(org)).filter((e) => e.type === 'organization.invitation_expired')).toHaveLength(1);
    expect((await t.run(Accept, { input: { token: fresh.token! } }, { token: late.session!.accessToken })).acceptOrganizationInvitation.__typename).toBe('AcceptOrganizationInvitationSuccess');
  });

  it('the leader chore marks overdue pending invitations EXPIRED, with organization.invitation_expired', async () => {
    const org = await newOrg('Invite Chore');
    const { invitation } = await invite(org, 'chore@invite.example');
    await t.app.database.client.organizationInvitation.update({ where: { id: invitation.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const row = await eventually(
      () => t.app.database.client.organizationInvitation.findFirst({ where: { id: invitation.id, status: 'EXPIRED' } }),
      'the expiry chore',
    );
    expect(row?.pendingSlot).toBeNull();
    expect((await eventsOf(org)).filter((e) => e.type === 'organization.invitation_expired')).toMatchObject([{ actorType: 'system', data: { invitation: { id: invitation.id } } }]);
  });

  it('an existing member who accepts gains the roles it lacks; roles deleted since are ignored', async () => {
    const org = await newOrg('Invite Member');
    const cleo = await signedIn('cleo@invite.example');
    await t.run(AddMember, { input: { organizationId: org, userId: cleo.id } });
    const gone = await seedRole(t, { key: 'temporary' });
    const { token } = await invite(org, 'cleo@invite.example', { roleIds: [editor.id, gone.id] });
    await t.app.database.client.role.delete({ where: { id: gone.id } });
    const r = await t.run(Accept, { input: { token: token! } }, { token: cleo.session!.accessToken });
    expect(r.acceptOrganizationInvitation).toMatchObject({ __typename: 'AcceptOrganizationInvitationSuccess', membership: { user: { id: cleo.id }, roles: [{ key: 'editor' }, { key: 'viewer' }] } });
    const types = (await eventsOf(org)).map((e) => e.type);
    expect(types.slice(-2)).toEqual(['organization.member_roles_updated', 'organization.invitation_accepted']);
    expect(types.filter((x) => x === 'organization.member_added')).toHaveLength(1);
  });

  it('revokes a pending invitation once; its token stops working', async () => {
    const org = await newOrg('Invite Revoke');
    const { invitation, token } = await invite(org, 'dan@invite.example');
    expect((await t.run(Revoke, { input: { id: invitation.id } })).revokeOrganizationInvitation).toEqual({ __typename: 'RevokeOrganizationInvitationSuccess', invitation: { status: 'REVOKED' } });
    expect((await t.run(Revoke, { input: { id: invitation.id } })).revokeOrganizationInvitation).toMatchObject({ __typename: 'InvalidStateError' });
    expect((await t.run(Revoke, { input: { id: 'inv_none' } })).revokeOrganizationInvitation).toMatchObject({ __typename: 'NotFoundError' });
    const dan = await signedIn('dan@invite.example');
    expect((await t.run(Accept, { input: { token: token! } }, { token: dan.session!.accessToken })).acceptOrganizationInvitation).toMatchObject({ __typename: 'InvitationRevokedError' });
    // Revoked frees the address for a new invitation.
    await invite(org, 'dan@invite.example');
  });
});

describe('domains', () => {
  it('adds, verifies by an admin, updates and removes; refuses bad and duplicate domains', async () => {
    const org = await newOrg('Domain Admin');
    const r = await t.run(AddDomain, { input: { organizationId: org, domain: ' Corp.Example. ', roleIds: [editor.id] } });
    expect(r.addOrganizationDomain).toMatchObject({ domain: { domain: 'corp.example', verified: false, autoJoin: false, roles: [{ key: 'editor' }] } });
    const id = (r.addOrganizationDomain as { domain: { id: string } }).domain.id;
    expect((await t.run(AddDomain, { input: { organizationId: org, domain: 'corp.example' } })).addOrganizationDomain).toMatchObject({ __typename: 'AlreadyExistsError' });
    for (const domain of ['localhost', 'bad_domain.example', 'a..example', '10.0.0.1']) {
      expect((await t.run(AddDomain, { input: { organizationId: org, domain } })).addOrganizationDomain, domain).toMatchObject({ __typename: 'InvalidInputError', field: 'domain' });
    }
    expect((await t.run(VerifyDomain, { input: { id } })).verifyOrganizationDomain).toMatchObject({ domain: { verified: true, verifiedAt: expect.any(String) } });
    expect((await t.run(VerifyDomain, { input: { id } })).verifyOrganizationDomain).toMatchObject({ __typename: 'InvalidStateError' });
    expect((await t.run(UpdateDomain, { input: { id, autoJoin: true, roleIds: [] } })).updateOrganizationDomain).toMatchObject({ domain: { autoJoin: true, roles: [] } });
    expect((await t.run(Domains, { id: org })).organization!.domains).toEqual([{ id, domain: 'corp.example', verified: true, autoJoin: true }]);
    expect((await t.run(RemoveDomain, { input: { id } })).removeOrganizationDomain).toEqual({ __typename: 'RemoveOrganizationDomainSuccess', removedDomainId: id });
    expect((await t.run(Domains, { id: org })).organization!.domains).toEqual([]);
    const types = (await eventsOf(org)).map((e) => e.type);
    expect(types).toEqual(['organization.created', 'organization.domain_added', 'organization.domain_verified', 'organization.domain_updated', 'organization.domain_removed']);
  });

  it('verifies by proof of control: a member whose verified email is at the domain', async () => {
    const org = await newOrg('Domain Proof');
    const r = await t.run(AddDomain, { input: { organizationId: org, domain: 'proof.example' } });
    const id = (r.addOrganizationDomain as { domain: { id: string } }).domain.id;
    const outsider = await seed(t).user({ email: 'out@proof.example' }).verified();
    const unverified = await seed(t).user({ email: 'unverified@proof.example' });
    const elsewhere = await seed(t).user({ email: 'someone@elsewhere.example' }).verified();
    const proof = await seed(t).user({ email: 'it@proof.example' }).verified();
    for (const u of [unverified, elsewhere, proof]) await t.run(AddMember, { input: { organizationId: org, userId: u.id } });
    const verify = async (userId: string) => (await t.run(VerifyDomain, { input: { id, userId } })).verifyOrganizationDomain;
    expect(await verify(outsider.id)).toMatchObject({ __typename: 'NotFoundError' });
    expect(await verify(unverified.id)).toMatchObject({ __typename: 'EmailNotVerifiedError' });
    expect(await verify(elsewhere.id)).toMatchObject({ __typename: 'InvalidInputError', field: 'userId' });
    expect(await verify('usr_none')).toMatchObject({ __typename: 'UserNotFoundError' });
    expect(await verify(proof.id)).toMatchObject({ __typename: 'VerifyOrganizationDomainSuccess', domain: { verified: true } });
    expect((await eventsOf(org)).find((e) => e.type === 'organization.domain_verified')?.data).toMatchObject({ method: 'email', domain: { domain: 'proof.example', verified: true } });
  });

  it('users whose email becomes verified at a verified autoJoin domain join, once, with its roles', async () => {
    const org = await newOrg('Domain Join');
    const other = await newOrg('Domain Join Unverified');
    const added = await t.run(AddDomain, { input: { organizationId: org, domain: 'jit.example', autoJoin: true, roleIds: [admin.id] } });
    const domainId = (added.addOrganizationDomain as { domain: { id: string } }).domain.id;
    await t.run(VerifyDomain, { input: { id: domainId } });
    // The same domain, unverified, in another organization: nobody joins that one.
    await t.run(AddDomain, { input: { organizationId: other, domain: 'jit.example', autoJoin: true } });

    const created = await t.run(CreateUser, { input: { email: 'Eve@JIT.example', emailVerification: 'MARK_VERIFIED' } });
    const eve = (created.createUser as { user: { id: string } }).user.id;
    const memberships = await eventually(async () => {
      const m = (await t.run(Memberships, { id: eve })).user!.memberships;
      return m.length ? m : null;
    }, 'the JIT membership');
    expect(memberships).toEqual([{ organization: { id: org }, roles: [{ key: 'admin' }] }]);
    expect((await eventsOf(org)).find((e) => e.type === 'organization.member_added' && e.userId === eve)?.data).toMatchObject({ via: 'domain' });

    // user.email_verified later (here: updateUser MARK_VERIFIED); without roles on the domain, the default ones.
    await t.run(UpdateDomain, { input: { id: domainId, roleIds: [] } });
    const later = (await t.run(CreateUser, { input: { email: 'frank@jit.example' } })).createUser as { user: { id: string } };
    const unverifiedUser = (await t.run(CreateUser, { input: { email: 'gina@jit.example' } })).createUser as { user: { id: string } };
    await t.run(UpdateUser, { input: { userId: later.user.id, email: 'frank@jit.example', emailVerification: 'MARK_VERIFIED' } });
    const frank = await eventually(async () => {
      const m = (await t.run(Memberships, { id: later.user.id })).user!.memberships;
      return m.length ? m : null;
    }, 'the JIT membership after user.email_verified');
    expect(frank).toEqual([{ organization: { id: org }, roles: [{ key: 'viewer' }] }]);
    expect((await t.run(Memberships, { id: unverifiedUser.user.id })).user!.memberships).toEqual([]);

    // Idempotent: the same events fanned out again (a lease hand-over) make nothing new.
    const events = await t.app.database.client.event.findMany({ where: { userId: { in: [eve, later.user.id] } }, orderBy: { seq: 'asc' } });
    const relayed = events.map((e) => ({ ...e, occurredAt: e.occurredAt.toISOString() }));
    expect(await t.app.services.organizationDomains.joinByVerifiedEmail(relayed)).toBe(0);
    expect(await t.app.database.client.membership.count({ where: { organizationId: org } })).toBe(2);
    expect(await t.app.database.client.membership.count({ where: { organizationId: other } })).toBe(0);
  });
});
