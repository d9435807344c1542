/**
 * Threats to organizations, thought as an attacker with a user's access token
 * or with someone else's invitation:
 * - managing organizations, members, invitations or domains without an API key;
 * - reading an organization's members, invitations, domains or privateMetadata
 *   through one's own memberships;
 * - accepting an invitation meant for another address, with an unverified
 *   email, or with a token that was replayed, revoked, expired or guessed
 *   (and learning the invitee's address from the refusal);
 * - finding the token in the log or the event log;
 * - racing ten accepts of one invitation for more than one membership;
 * - racing changes that each leave an owner, to leave an organization with
 *   none: taking the owner permission from the role one owner holds it
 *   through while the other owner is removed, stripped, or given that role
 *   instead of its own; deleting one owner's user while the other is removed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { capturedLogger, createTestApp, type TestApp } from './helpers/app.js';
import { codeSink } from './helpers/code-sink.js';
import { seed, seedRole } from './helpers/seed.js';

const CreateOrg = graphql(`
  mutation SecOrgCreate($input: CreateOrganizationInput!) {
    createOrganization(input: $input) { __typename ... on CreateOrganizationSuccess { organization { id } } }
  }
`);
const AddMember = graphql(`
  mutation SecOrgAddMember($input: AddOrganizationMemberInput!) {
    addOrganizationMember(input: $input) { __typename }
  }
`);
const RemoveMember = graphql(`
  mutation SecOrgRemoveMember($input: RemoveOrganizationMemberInput!) {
    removeOrganizationMember(input: $input) { __typename }
  }
`);
const UpdateMemberRoles = graphql(`
  mutation SecOrgUpdateMemberRoles($input: UpdateOrganizationMemberRolesInput!) {
    updateOrganizationMemberRoles(input: $input) { __typename }
  }
`);
const SetRolePermissions = graphql(`
  mutation SecOrgSetRolePermissions($input: SetRolePermissionsInput!) {
    setRolePermissions(input: $input) { __typename }
  }
`);
const DeleteUser = graphql(`
  mutation SecOrgDeleteUser($input: DeleteUserInput!) {
    deleteUser(input: $input) { __typename }
  }
`);
const Invite = graphql(`
  mutation SecOrgInvite($input: CreateOrganizationInvitationInput!) {
    createOrganizationInvitation(input: $input) { __typename ... on CreateOrganizationInvitationSuccess { token invitation { id } } ... on Error { code } }
  }
`);
const Revoke = graphql(`
  mutation SecOrgRevoke($input: RevokeOrganizationInvitationInput!) {
    revokeOrganizationInvitation(input: $input) { __typename }
  }
`);
const AddDomain = graphql(`
  mutation SecOrgAddDomain($input: AddOrganizationDomainInput!) {
    addOrganizationDomain(input: $input) { __typename }
  }
`);
const Accept = graphql(`
  mutation SecOrgAccept($input: AcceptOrganizationInvitationInput!) {
    acceptOrganizationInvitation(input: $input) {
      __typename
      ... on AcceptOrganizationInvitationSuccess { membership { id organization { id } } }
      ... on Error { code message }
    }
  }
`);
const ReadOrg = graphql(`
  query SecOrgRead($id: ID!) { organization(id: $id) { id } }
`);
const ListOrgs = graphql(`
  query SecOrgList { organizations(first: 5) { totalCount } }
`);
const MyMemberships = graphql(`
  query SecOrgMine { me { memberships { organization { id name publicMetadata } roles { key } } } }
`);
const MyOrgPrivate = graphql(`
  query SecOrgMinePrivate { me { memberships { organization { privateMetadata } } } }
`);
const MyOrgMembers = graphql(`
  query SecOrgMineMembers { me { memberships { organization { members(first: 10) { edges { node { user { email } } } } } } } }
`);
const MyOrgInvitations = graphql(`
  query SecOrgMineInvitations { me { memberships { organization { invitations { email } domains { domain } } } } }
`);
const OtherUserMemberships = graphql(`
  query SecOrgOther($id: ID!) { node(id: $id) { ... on User { memberships { organization { id } } } } }
`);

const sink = codeSink();
const log = capturedLogger('trace');
let t: TestApp;
let org: string;
let other: string;
let ada: { id: string; token: string };

beforeAll(async () => {
  t = await createTestApp({ delivery: sink.delivery, logger: log.logger, env: { PORTCULLIS_ACCESS_LOG: 'true', PORTCULLIS_INVITATION_LINK_URL: 'https://app.example.test/join?token={token}' } });
  await seedRole(t, { key: 'member', isDefault: true });
  const created = await t.run(CreateOrg, { input: { name: 'Secure Org', privateMetadata: { secret: 'internal' }, publicMetadata: { plan: 'pro' } } });
  org = (created.createOrganization as { organization: { id: string } }).organization.id;
  const second = await t.run(CreateOrg, { input: { name: 'Other Org', privateMetadata: { secret: 'theirs' } } });
  other = (second.createOrganization as { organization: { id: string } }).organization.id;
  const u = await seed(t).user({ email: 'ada@secure.example' }).verified().signedIn();
  ada = { id: u.id, token: u.session!.accessToken };
  await t.run(AddMember, { input: { organizationId: org, userId: ada.id } });
  const peer = await seed(t).user({ email: 'peer@secure.example' });
  await t.run(AddMember, { input: { organizationId: org, userId: peer.id } });
  await t.run(AddMember, { input: { organizationId: other, userId: peer.id } });
});
afterAll(async () => t?.close());

async function invite(email: string, organizationId = org): Promise<{ id: string; token: string }> {
  const r = await t.run(Invite, { input: { organizationId, email, delivery: 'RETURN' } });
  if (r.createOrganizationInvitation.__typename !== 'CreateOrganizationInvitationSuccess') throw new Error(JSON.stringify(r));
  return { id: r.createOrganizationInvitation.invitation.id, token: r.createOrganizationInvitation.token! };
}

const forbidden = (result: { errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> }) => result.errors?.[0]?.extensions?.code;

describe('an access token', () => {
  it('cannot manage organizations, members, invitations or domains, nor read or list organizations', async () => {
    const as = { token: ada.token };
    const attempts = [
      t.exec(CreateOrg, { input: { name: 'Mine' } }, as),
      t.exec(AddMember, { input: { organizationId: org, userId: ada.id } }, as),
      t.exec(RemoveMember, { input: { organizationId: org, userId: ada.id } }, as),
      t.exec(Invite, { input: { organizationId: org, email: 'friend@secure.example', delivery: 'RETURN' } }, as),
      t.exec(Revoke, { input: { id: 'inv_x' } }, as),
      t.exec(AddDomain, { input: { organizationId: org, domain: 'secure.example', autoJoin: true } }, as),
      t.exec(ReadOrg, { id: org }, as),
      t.exec(ListOrgs, {}, as),
      t.exec(OtherUserMemberships, { id: ada.id }, as),
    ];
    for (const result of await Promise.all(attempts)) {
      expect(forbidden(result)).toBe('FORBIDDEN');
      expect(result.data?.[Object.keys(result.data ?? {})[0] as never] ?? null).toBeNull();
    }
    expect(await t.app.database.client.organization.count()).toBe(2);
  });

  it("reads its own memberships, but not its organizations' members, invitations, domains or privateMetadata", async () => {
    const mine = await t.run(MyMemberships, {}, { token: ada.token });
    expect(mine.me?.memberships).toEqual([{ organization: { id: org, name: 'Secure Org', publicMetadata: { plan: 'pro' } }, roles: [{ key: 'member' }] }]);
    for (const doc of [MyOrgPrivate, MyOrgMembers, MyOrgInvitations] as Array<typeof MyOrgPrivate>) {
      const r = await t.exec(doc, {}, { token: ada.token });
      expect(forbidden(r)).toBe('FORBIDDEN');
      expect(JSON.stringify(r.data ?? null)).not.toMatch(/internal|theirs|peer@secure/);
    }
  });

  it('cannot accept as an API key: accepting is for the signed-in invitee', async () => {
    const { token } = await invite('api@secure.example');
    const r = await t.exec(Accept, { input: { token } });
    expect(forbidden(r)).toBe('FORBIDDEN');
  });
});

describe('accepting an invitation', () => {
  it('is refused for another address without naming the invitee, and for an unverified email', async () => {
    const { token } = await invite('invitee.private@secure.example');
    const r = await t.run(Accept, { input: { token } }, { token: ada.token });
    expect(r.acceptOrganizationInvitation).toMatchObject({ __typename: 'InvitationEmailMismatchError', code: 'INVITATION_EMAIL_MISMATCH' });
    expect(JSON.stringify(r)).not.toMatch(/invitee|private/);

    const unverified = await seed(t).user({ email: 'invitee.private@secure.example' }).signedIn();
    const r2 = await t.run(Accept, { input: { token } }, { token: unverified.session!.accessToken });
    expect(r2.acceptOrganizationInvitation).toMatchObject({ __typename: 'EmailNotVerifiedError', code: 'EMAIL_NOT_VERIFIED' });
    expect(await t.app.database.client.membership.count({ where: { userId: unverified.id } })).toBe(0);
  });

  it('is refused for a guessed, replayed, revoked or expired token', async () => {
    const guessed = await t.run(Accept, { input: { token: 'A'.repeat(43) } }, { token: ada.token });
    expect(guessed.acceptOrganizationInvitation).toMatchObject({ __typename: 'InvitationNotFoundError' });

    const ben = await seed(t).user({ email: 'ben@secure.example' }).verified().signedIn();
    const as = { token: ben.session!.accessToken };
    const once = await invite('ben@secure.example');
    expect((await t.run(Accept, { input: { token: once.token } }, as)).acceptOrganizationInvitation.__typename).toBe('AcceptOrganizationInvitationSuccess');
    expect((await t.run(Accept, { input: { token: once.token } }, as)).acceptOrganizationInvitation).toMatchObject({ __typename: 'InvitationAlreadyAcceptedError' });

    const revoked = await invite('ben@secure.example', other);
    await t.run(Revoke, { input: { id: revoked.id } });
    expect((await t.run(Accept, { input: { token: revoked.token } }, as)).acceptOrganizationInvitation).toMatchObject({ __typename: 'InvitationRevokedError' });

    const expired = await invite('ben@secure.example', other);
    await t.app.database.client.organizationInvitation.update({ where: { id: expired.id }, data: { expiresAt: new Date(Date.now() - 1) } });
    expect((await t.run(Accept, { input: { token: expired.token } }, as)).acceptOrganizationInvitation).toMatchObject({ __typename: 'InvitationExpiredError' });
    expect(await t.app.database.client.membership.count({ where: { userId: ben.id, organizationId: other } })).toBe(0);
  });

  it('makes one membership of ten concurrent accepts of one invitation', async () => {
    const cara = await seed(t).user({ email: 'cara@secure.example' }).verified().signedIn();
    const { token } = await invite('cara@secure.example', other);
    const results = await Promise.all(Array.from({ length: 10 }, () => t.run(Accept, { input: { token } }, { token: cara.session!.accessToken })));
    const kinds = results.map((r) => r.acceptOrganizationInvitation.__typename);
    expect(kinds.filter((k) => k === 'AcceptOrganizationInvitationSuccess')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'InvitationAlreadyAcceptedError')).toHaveLength(9);
    expect(await t.app.database.client.membership.count({ where: { userId: cara.id, organizationId: other } })).toBe(1);
    const added = await t.app.database.client.event.count({ where: { organizationId: other, userId: cara.id, type: 'organization.member_added' } });
    expect(added).toBe(1);
  });
});

describe('invitation tokens', () => {
  it('appear in no log line and no event, returned or sent', async () => {
    const returned = await invite('logged@secure.example');
    const dora = await seed(t).user({ email: 'logged@secure.example' }).verified().signedIn();
    await t.run(Accept, { input: { token: returned.token } }, { token: dora.session!.accessToken });
    await t.run(Invite, { input: { organizationId: other, email: 'sent@secure.example', delivery: 'SEND' } });
    const sent = new URL(sink.sent.at(-1)!.text.match(/https:\/\/\S+/)![0]).searchParams.get('token')!;
    sink.fail();
    const failed = await t.run(Invite, { input: { organizationId: other, email: 'failed@secure.example', delivery: 'SEND' } });
    sink.fail(false);
    expect(failed.createOrganizationInvitation).toMatchObject({ __typename: 'DeliveryFailedError' });
    const refusedToken = new URL(sink.refused.at(-1)!.text.match(/https:\/\/\S+/)![0]).searchParams.get('token')!;

    expect(log.lines.length).toBeGreaterThan(0);
    const events = JSON.stringify(await t.app.database.client.event.findMany());
    for (const token of [returned.token, sent, refusedToken]) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(log.lines.join('\n')).not.toContain(token);
      expect(events).not.toContain(token);
    }
    // The undelivered invitation was withdrawn: the address can be invited again.
    expect((await t.run(Invite, { input: { organizationId: other, email: 'failed@secure.example', delivery: 'RETURN' } })).createOrganizationInvitation.__typename).toBe(
      'CreateOrganizationInvitationSuccess',
    );
  });
});

describe('the owner rule under concurrency', () => {
  const OWNER = 'organization:delete';
  let plain: string;
  let keep: string;
  let n = 0;

  beforeAll(async () => {
    // A role without the owner permission, and the permission a role keeps when it loses that one.
    plain = (await seedRole(t, { key: 'race-plain', permissions: ['organization:read', 'organization:update'] })).id;
    keep = (await t.app.database.client.permission.findUniqueOrThrow({ where: { key: 'organization:update' } })).id;
  });

  /** A fresh organization whose two members hold the owner permission through two fresh roles, A and B. */
  async function ownedTwice() {
    n++;
    const [a, b] = [await seedRole(t, { key: `race-a-${n}`, permissions: [OWNER, 'organization:update'] }), await seedRole(t, { key: `race-b-${n}`, permissions: [OWNER] })];
    const created = await t.run(CreateOrg, { input: { name: `Race Owned ${n}` } });
    const organizationId = (created.createOrganization as { organization: { id: string } }).organization.id;
    const [viaA, viaB] = [await seed(t).user(), await seed(t).user()];
    await t.run(AddMember, { input: { organizationId, userId: viaA.id, roleIds: [a.id] } });
    await t.run(AddMember, { input: { organizationId, userId: viaB.id, roleIds: [b.id] } });
    return { organizationId, a: a.id, b: b.id, viaA: viaA.id, viaB: viaB.id };
  }

  /** Members of the organization holding the owner permission, by any role. */
  const owners = (organizationId: string) =>
    t.app.database.client.membership.count({ where: { organizationId, roles: { some: { role: { permissions: { some: { permission: { key: OWNER } } } } } } } });

  it('never lets a role losing the permission and the other owner leaving both succeed', async () => {
    for (let round = 0; round < 6; round++) {
      const o = await ownedTwice();
      const drop = t.run(SetRolePermissions, { input: { roleId: o.a, permissionIds: [keep] } }).then((r) => r.setRolePermissions.__typename);
      const leave =
        round % 2 === 0
          ? t.run(RemoveMember, { input: { organizationId: o.organizationId, userId: o.viaB } }).then((r) => r.removeOrganizationMember.__typename)
          : t.run(UpdateMemberRoles, { input: { organizationId: o.organizationId, userId: o.viaB, roleIds: [plain] } }).then((r) => r.updateOrganizationMemberRoles.__typename);
      const kinds = await Promise.all([drop, leave]);
      expect(kinds.filter((k) => k === 'LastOwnerError'), `round ${round}: ${kinds}`).toHaveLength(1);
      expect(await owners(o.organizationId), `round ${round}`).toBeGreaterThanOrEqual(1);
    }
  });

  it('never lets a role losing the permission and the last owner switching to that role both succeed', async () => {
    for (let round = 0; round < 4; round++) {
      const o = await ownedTwice();
      // Only viaB owns now; A is held nowhere else.
      await t.run(RemoveMember, { input: { organizationId: o.organizationId, userId: o.viaA } });
      const kinds = await Promise.all([
        t.run(SetRolePermissions, { input: { roleId: o.a, permissionIds: [keep] } }).then((r) => r.setRolePermissions.__typename),
        t.run(UpdateMemberRoles, { input: { organizationId: o.organizationId, userId: o.viaB, roleIds: [o.a] } }).then((r) => r.updateOrganizationMemberRoles.__typename),
      ]);
      expect(kinds.filter((k) => k === 'LastOwnerError'), `round ${round}: ${kinds}`).toHaveLength(1);
      expect(await owners(o.organizationId), `round ${round}`).toBe(1);
    }
  });

  it("never lets one owner's deletion and the other owner's removal both succeed", async () => {
    for (let round = 0; round < 4; round++) {
      const o = await ownedTwice();
      const kinds = await Promise.all([
        t.run(DeleteUser, { input: { userId: o.viaA } }).then((r) => r.deleteUser.__typename),
        t.run(RemoveMember, { input: { organizationId: o.organizationId, userId: o.viaB } }).then((r) => r.removeOrganizationMember.__typename),
      ]);
      expect(kinds.filter((k) => k === 'LastOwnerError'), `round ${round}: ${kinds}`).toHaveLength(1);
      expect(await owners(o.organizationId), `round ${round}`).toBe(1);
    }
  });
});
