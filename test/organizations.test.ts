/**
 * Organizations and their members through the API: create (slug derived or
 * given, unique under concurrency), update (metadata replaced, 8 KiB cap),
 * read and list, delete (memberships go with it); members with default or
 * named ORGANIZATION roles, filtered by role and text; the owner rule (the
 * last member holding the owner permission stays, also when its two last
 * owners are removed at once, when its user is deleted, and when the role it
 * holds the permission through loses it); the events, each with the organization on its
 * row; and a member list with users and roles in a fixed number of queries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { seed, seedRole } from './helpers/seed.js';

const CreateOrg = graphql(`
  mutation OrgsCreate($input: CreateOrganizationInput!) {
    createOrganization(input: $input) {
      __typename
      ... on CreateOrganizationSuccess { organization { id name slug publicMetadata privateMetadata } }
      ... on AlreadyExistsError { field }
      ... on InvalidInputError { field }
      ... on Error { code message }
    }
  }
`);
const UpdateOrg = graphql(`
  mutation OrgsUpdate($input: UpdateOrganizationInput!) {
    updateOrganization(input: $input) {
      __typename
      ... on UpdateOrganizationSuccess { organization { id name slug publicMetadata privateMetadata } }
      ... on InvalidInputError { field }
      ... on Error { code }
    }
  }
`);
const DeleteOrg = graphql(`
  mutation OrgsDelete($input: DeleteOrganizationInput!) {
    deleteOrganization(input: $input) { __typename ... on DeleteOrganizationSuccess { deletedOrganizationId } ... on Error { code } }
  }
`);
const AddMember = graphql(`
  mutation OrgsAddMember($input: AddOrganizationMemberInput!) {
    addOrganizationMember(input: $input) {
      __typename
      ... on AddOrganizationMemberSuccess { membership { id user { id } organization { id } roles { key scope } } }
      ... on OrganizationRoleRequiredError { roleIds }
      ... on Error { code }
    }
  }
`);
const UpdateRoles = graphql(`
  mutation OrgsUpdateRoles($input: UpdateOrganizationMemberRolesInput!) {
    updateOrganizationMemberRoles(input: $input) {
      __typename
      ... on UpdateOrganizationMemberRolesSuccess { membership { roles { key } } }
      ... on LastOwnerError { permission }
      ... on Error { code }
    }
  }
`);
const RemoveMember = graphql(`
  mutation OrgsRemoveMember($input: RemoveOrganizationMemberInput!) {
    removeOrganizationMember(input: $input) {
      __typename
      ... on RemoveOrganizationMemberSuccess { organization { id } user { id } }
      ... on LastOwnerError { permission message }
      ... on Error { code }
    }
  }
`);
const DeleteUser = graphql(`
  mutation OrgsDeleteUser($input: DeleteUserInput!) {
    deleteUser(input: $input) {
      __typename
      ... on DeleteUserSuccess { deletedUserId }
      ... on LastOwnerError { permission organizationId }
      ... on Error { code }
    }
  }
`);
const SetRolePermissions = graphql(`
  mutation OrgsSetRolePermissions($input: SetRolePermissionsInput!) {
    setRolePermissions(input: $input) {
      __typename
      ... on SetRolePermissionsSuccess { removed }
      ... on LastOwnerError { permission organizationId message }
      ... on Error { code }
    }
  }
`);
const RemovedLog = graphql(`
  query OrgsRemovedLog($organizationId: ID!) {
    events(first: 50, organizationId: $organizationId, types: [ORGANIZATION_MEMBER_REMOVED]) { edges { node { type userId organizationId data } } }
  }
`);
const ReadOrg = graphql(`
  query OrgsRead($id: ID!, $filter: OrganizationMemberFilter) {
    organization(id: $id) {
      id
      slug
      members(first: 50, filter: $filter) { totalCount edges { node { user { id } roles { key } } } }
    }
  }
`);
const BySlug = graphql(`
  query OrgsBySlug($slug: String!) { organizationBySlug(slug: $slug) { id name } }
`);
const ListOrgs = graphql(`
  query OrgsList($first: Int, $after: String, $filter: OrganizationFilter) {
    organizations(first: $first, after: $after, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } edges { node { id slug } } }
  }
`);
const UserMemberships = graphql(`
  query OrgsUserMemberships($id: ID!) {
    user(id: $id) { memberships { organization { id } roles { key } } }
  }
`);
const MembersWithUsers = graphql(`
  query OrgsMembersNPlusOne($id: ID!) {
    organization(id: $id) { members(first: 50) { edges { node { user { id email } roles { key } permissions } } } }
  }
`);

let t: TestApp;
const queries: string[] = [];
let owner: { id: string; key: string };
let member: { id: string; key: string };
let global: { id: string; key: string };

beforeAll(async () => {
  t = await createTestApp({ onQuery: (sql) => queries.push(sql) });
  owner = await seedRole(t, { key: 'owner', permissions: ['organization:delete', 'organization:update'] });
  member = await seedRole(t, { key: 'member', isDefault: true, permissions: ['organization:read'] });
  global = await seedRole(t, { key: 'staff', scope: 'GLOBAL' });
});
afterAll(async () => t?.close());

async function newOrg(name: string, slug?: string): Promise<string> {
  const r = await t.run(CreateOrg, { input: { name, slug } });
  if (r.createOrganization.__typename !== 'CreateOrganizationSuccess') throw new Error(JSON.stringify(r.createOrganization));
  return r.createOrganization.organization.id;
}

async function addMember(organizationId: string, userId: string, roleIds?: string[]) {
  const r = await t.run(AddMember, { input: { organizationId, userId, roleIds } });
  if (r.addOrganizationMember.__typename !== 'AddOrganizationMemberSuccess') throw new Error(JSON.stringify(r.addOrganizationMember));
  return r.addOrganizationMember.membership;
}

const eventsOf = (organizationId: string) => t.app.database.client.event.findMany({ where: { organizationId }, orderBy: { seq: 'asc' } });

describe('organizations', () => {
  it('creates with a slug derived from the name, records organization.created with the organization on the row', async () => {
    const r = await t.run(CreateOrg, { input: { name: '  Ünïcode Café & Co. ', publicMetadata: { plan: 'pro' }, privateMetadata: { crm: 'A-1' } } });
    expect(r.createOrganization).toMatchObject({
      __typename: 'CreateOrganizationSuccess',
      organization: { name: 'Ünïcode Café & Co.', slug: 'unicode-cafe-co', publicMetadata: { plan: 'pro' }, privateMetadata: { crm: 'A-1' } },
    });
    const id = (r.createOrganization as { organization: { id: string } }).organization.id;
    expect(id).toMatch(/^org_/);
    const events = await eventsOf(id);
    expect(events.map((e) => e.type)).toEqual(['organization.created']);
    expect(events[0].data).toEqual({ organization: { id, name: 'Ünïcode Café & Co.', slug: 'unicode-cafe-co' } });
    expect((await t.run(BySlug, { slug: 'UNICODE-cafe-co' })).organizationBySlug).toEqual({ id, name: 'Ünïcode Café & Co.' });
    expect((await t.run(BySlug, { slug: 'nobody' })).organizationBySlug).toBeNull();
  });

  it('refuses bad slugs, names, and metadata that is not an object or over 8 KiB', async () => {
    for (const [input, field] of [
      [{ name: 'X', slug: 'Has Caps' }, 'slug'],
      [{ name: 'X', slug: '-dash' }, 'slug'],
      [{ name: 'X', slug: 'a' }, 'slug'],
      [{ name: '!!' }, 'slug'],
      [{ name: '   ' }, 'name'],
      [{ name: 'Big', publicMetadata: { blob: 'x'.repeat(8 * 1024) } }, 'publicMetadata'],
      [{ name: 'Arr', privateMetadata: [1, 2] }, 'privateMetadata'],
    ] as const) {
      const r = await t.run(CreateOrg, { input });
      expect(r.createOrganization, JSON.stringify(input)).toMatchObject({ __typename: 'InvalidInputError', field });
    }
  });

  it('gives a slug to one of five concurrent creations; the others get AlreadyExistsError', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => t.run(CreateOrg, { input: { name: `Race ${i}`, slug: 'race-slug' } })));
    const kinds = results.map((r) => r.createOrganization.__typename).sort();
    expect(kinds).toEqual(['AlreadyExistsError', 'AlreadyExistsError', 'AlreadyExistsError', 'AlreadyExistsError', 'CreateOrganizationSuccess']);
    expect(results.find((r) => r.createOrganization.__typename === 'AlreadyExistsError')!.createOrganization).toMatchObject({ field: 'slug' });
    expect(await t.app.database.client.organization.count({ where: { slug: 'race-slug' } })).toBe(1);
  });

  it('updates: fields left out stay, metadata is replaced, a taken slug is AlreadyExistsError, records organization.updated', async () => {
    const id = await newOrg('Update Me');
    await newOrg('Taken', 'taken-slug');
    const r = await t.run(UpdateOrg, { input: { id, name: 'Updated', publicMetadata: { b: 2 } } });
    expect(r.updateOrganization).toMatchObject({ organization: { name: 'Updated', slug: 'update-me', publicMetadata: { b: 2 }, privateMetadata: {} } });
    const again = await t.run(UpdateOrg, { input: { id, publicMetadata: { c: 3 } } });
    expect(again.updateOrganization).toMatchObject({ organization: { publicMetadata: { c: 3 } } });
    expect((await t.run(UpdateOrg, { input: { id, slug: 'taken-slug' } })).updateOrganization).toMatchObject({ __typename: 'AlreadyExistsError', code: 'ALREADY_EXISTS' });
    expect((await t.run(UpdateOrg, { input: { id, privateMetadata: { big: 'é'.repeat(4200) } } })).updateOrganization).toMatchObject({ __typename: 'InvalidInputError', field: 'privateMetadata' });
    expect((await t.run(UpdateOrg, { input: { id: 'org_nope', name: 'x' } })).updateOrganization).toMatchObject({ __typename: 'NotFoundError' });
    const updated = (await eventsOf(id)).filter((e) => e.type === 'organization.updated').map((e) => (e.data as { changes: string[] }).changes);
    expect(updated).toEqual([['name', 'publicMetadata'], ['publicMetadata']]);
  });

  it('lists organizations by text and by member, with a total and pages', async () => {
    const a = await newOrg('Listable Alpha');
    const b = await newOrg('Listable Beta');
    const user = await seed(t).user();
    await addMember(b, user.id);
    const byText = await t.run(ListOrgs, { first: 1, filter: { query: 'LISTABLE' } });
    expect(byText.organizations.totalCount).toBe(2);
    expect(byText.organizations.edges.map((e) => e.node.id)).toEqual([a]);
    const next = await t.run(ListOrgs, { first: 1, after: byText.organizations.pageInfo.endCursor, filter: { query: 'listable' } });
    expect(next.organizations.edges.map((e) => e.node.id)).toEqual([b]);
    expect(next.organizations.pageInfo.hasNextPage).toBe(false);
    const byUser = await t.run(ListOrgs, { first: 10, filter: { userId: user.id } });
    expect(byUser.organizations).toMatchObject({ totalCount: 1, edges: [{ node: { id: b } }] });
  });
});

describe('members', () => {
  it('adds with the default roles or named ones, refuses GLOBAL or unknown roles and a second membership', async () => {
    const org = await newOrg('Members Inc');
    const ada = await seed(t).user();
    const bob = await seed(t).user();
    expect(await addMember(org, ada.id)).toMatchObject({ id: expect.stringMatching(/^mem_/), user: { id: ada.id }, organization: { id: org }, roles: [{ key: 'member', scope: 'ORGANIZATION' }] });
    expect(await addMember(org, bob.id, [owner.id, member.id])).toMatchObject({ roles: [{ key: 'member' }, { key: 'owner' }] });

    const carl = await seed(t).user();
    const bad = await t.run(AddMember, { input: { organizationId: org, userId: carl.id, roleIds: [global.id, 'rol_unknown', member.id] } });
    expect(bad.addOrganizationMember).toMatchObject({ __typename: 'OrganizationRoleRequiredError', roleIds: [global.id, 'rol_unknown'] });
    expect((await t.run(AddMember, { input: { organizationId: org, userId: ada.id } })).addOrganizationMember).toMatchObject({ __typename: 'AlreadyExistsError' });
    expect((await t.run(AddMember, { input: { organizationId: org, userId: 'usr_nobody' } })).addOrganizationMember).toMatchObject({ __typename: 'UserNotFoundError' });
    expect((await t.run(AddMember, { input: { organizationId: 'org_nobody', userId: carl.id } })).addOrganizationMember).toMatchObject({ __typename: 'NotFoundError' });

    const concurrent = await Promise.all([1, 2, 3].map(() => t.run(AddMember, { input: { organizationId: org, userId: carl.id } })));
    expect(concurrent.map((r) => r.addOrganizationMember.__typename).sort()).toEqual(['AddOrganizationMemberSuccess', 'AlreadyExistsError', 'AlreadyExistsError']);

    const events = await eventsOf(org);
    const added = events.filter((e) => e.type === 'organization.member_added');
    expect(added.map((e) => e.userId)).toEqual([ada.id, bob.id, carl.id]);
    expect(added[1].data).toMatchObject({ membership: { userId: bob.id, roles: ['member', 'owner'] }, via: 'admin' });
    expect((await t.run(UserMemberships, { id: ada.id })).user?.memberships).toEqual([{ organization: { id: org }, roles: [{ key: 'member' }] }]);
  });

  it('filters members by role key and by text over email, username and names, case-insensitively', async () => {
    const org = await newOrg('Filter Co');
    const grace = await seed(t).user({ email: 'grace.hopper@filter.example', givenName: 'Grace' });
    const linus = await seed(t).user({ email: 'linus@filter.example', username: 'TorvaldsL' });
    await addMember(org, grace.id, [owner.id]);
    await addMember(org, linus.id);
    const ids = async (filter: { roleKey?: string; query?: string }) =>
      (await t.run(ReadOrg, { id: org, filter })).organization!.members.edges.map((e) => e.node.user.id);
    expect(await ids({ roleKey: 'owner' })).toEqual([grace.id]);
    expect(await ids({ roleKey: 'member' })).toEqual([linus.id]);
    expect(await ids({ query: 'GRACE' })).toEqual([grace.id]);
    expect(await ids({ query: 'HOPPER@FILTER' })).toEqual([grace.id]);
    expect(await ids({ query: 'torvalds' })).toEqual([linus.id]);
    expect(await ids({ query: 'filter.EXAMPLE', roleKey: 'member' })).toEqual([linus.id]);
    expect((await t.run(ReadOrg, { id: org, filter: { query: 'nobody' } })).organization!.members.totalCount).toBe(0);
  });

  it('replaces roles and records the delta; removes members and records member_removed', async () => {
    const org = await newOrg('Roles Delta');
    const ada = await seed(t).user();
    const bob = await seed(t).user();
    await addMember(org, ada.id, [owner.id]);
    await addMember(org, bob.id);
    const r = await t.run(UpdateRoles, { input: { organizationId: org, userId: bob.id, roleIds: [owner.id] } });
    expect(r.updateOrganizationMemberRoles).toMatchObject({ membership: { roles: [{ key: 'owner' }] } });
    const delta = (await eventsOf(org)).find((e) => e.type === 'organization.member_roles_updated');
    expect(delta).toMatchObject({ userId: bob.id, data: { added: ['owner'], removed: ['member'], membership: { roles: ['owner'] } } });
    const removed = await t.run(RemoveMember, { input: { organizationId: org, userId: bob.id } });
    expect(removed.removeOrganizationMember).toMatchObject({ __typename: 'RemoveOrganizationMemberSuccess', organization: { id: org }, user: { id: bob.id } });
    expect((await t.run(RemoveMember, { input: { organizationId: org, userId: bob.id } })).removeOrganizationMember).toMatchObject({ __typename: 'NotFoundError' });
    expect((await eventsOf(org)).at(-1)).toMatchObject({ type: 'organization.member_removed', userId: bob.id, data: { membership: { userId: bob.id, roles: ['owner'] }, via: 'admin' } });
  });
});

describe('the owner rule', () => {
  it('keeps the last member holding the owner permission: neither removed nor stripped of it', async () => {
    const org = await newOrg('Owned');
    const ada = await seed(t).user();
    const bob = await seed(t).user();
    await addMember(org, ada.id, [owner.id]);
    await addMember(org, bob.id);
    const removal = await t.run(RemoveMember, { input: { organizationId: org, userId: ada.id } });
    expect(removal.removeOrganizationMember).toMatchObject({ __typename: 'LastOwnerError', code: 'LAST_OWNER', permission: 'organization:delete' });
    const strip = await t.run(UpdateRoles, { input: { organizationId: org, userId: ada.id, roleIds: [member.id] } });
    expect(strip.updateOrganizationMemberRoles).toMatchObject({ __typename: 'LastOwnerError' });
    // Another owner first; then the first may go.
    await t.run(UpdateRoles, { input: { organizationId: org, userId: bob.id, roleIds: [owner.id, member.id] } });
    expect((await t.run(RemoveMember, { input: { organizationId: org, userId: ada.id } })).removeOrganizationMember.__typename).toBe('RemoveOrganizationMemberSuccess');
    // Non-owners come and go freely.
    const carl = await seed(t).user();
    await addMember(org, carl.id);
    expect((await t.run(RemoveMember, { input: { organizationId: org, userId: carl.id } })).removeOrganizationMember.__typename).toBe('RemoveOrganizationMemberSuccess');
  });

  it('does not apply while no member holds the owner permission', async () => {
    const org = await newOrg('Ownerless');
    const ada = await seed(t).user();
    await addMember(org, ada.id);
    expect((await t.run(RemoveMember, { input: { organizationId: org, userId: ada.id } })).removeOrganizationMember.__typename).toBe('RemoveOrganizationMemberSuccess');
  });

  it('leaves one owner when the last two are removed (or stripped) at the same time', async () => {
    for (let round = 0; round < 3; round++) {
      const org = await newOrg(`Two Owners ${round}`);
      const ada = await seed(t).user();
      const bob = await seed(t).user();
      await addMember(org, ada.id, [owner.id]);
      await addMember(org, bob.id, [owner.id]);
      const [first, second] = await Promise.all([
        t.run(RemoveMember, { input: { organizationId: org, userId: ada.id } }).then((r) => r.removeOrganizationMember.__typename),
        round === 1
          ? t.run(UpdateRoles, { input: { organizationId: org, userId: bob.id, roleIds: [member.id] } }).then((r) => r.updateOrganizationMemberRoles.__typename)
          : t.run(RemoveMember, { input: { organizationId: org, userId: bob.id } }).then((r) => r.removeOrganizationMember.__typename),
      ]);
      expect([first, second].filter((k) => k === 'LastOwnerError'), `round ${round}`).toHaveLength(1);
      const owners = await t.app.database.client.membership.count({ where: { organizationId: org, roles: { some: { roleId: owner.id } } } });
      expect(owners, `round ${round}`).toBe(1);
    }
  });
});

describe('the owner rule when a user is deleted', () => {
  const memberIds = async (org: string) => (await t.run(ReadOrg, { id: org })).organization!.members.edges.map((e) => e.node.user.id).sort();
  const removedLog = async (org: string) => (await t.run(RemovedLog, { organizationId: org })).events.edges.map((e) => e.node);

  it('refuses to delete the last owner of an organization, and deletes nothing', async () => {
    const org = await newOrg('Deletion Guarded');
    const side = await newOrg('Deletion Side');
    const ada = await seed(t).user();
    const bob = await seed(t).user();
    await addMember(org, ada.id, [owner.id]);
    await addMember(org, bob.id);
    await addMember(side, ada.id);
    const refused = await t.run(DeleteUser, { input: { userId: ada.id } });
    expect(refused.deleteUser).toEqual({ __typename: 'LastOwnerError', code: 'LAST_OWNER', permission: 'organization:delete', organizationId: org });
    // The user and both memberships stay, and nothing was recorded.
    expect((await t.run(UserMemberships, { id: ada.id })).user?.memberships.map((m) => m.organization.id).sort()).toEqual([org, side].sort());
    expect(await removedLog(org)).toEqual([]);
    expect(await removedLog(side)).toEqual([]);
    expect(await t.app.database.client.event.count({ where: { userId: ada.id, type: 'user.deleted' } })).toBe(0);
  });

  it('once another member holds the permission, deletes the user and records member_removed (via user_deleted) in each organization', async () => {
    const org = await newOrg('Deletion Handed Over');
    const side = await newOrg('Deletion Plain');
    const ada = await seed(t).user();
    const bob = await seed(t).user();
    await addMember(org, ada.id, [owner.id]);
    await addMember(org, bob.id);
    await addMember(side, ada.id);
    expect((await t.run(DeleteUser, { input: { userId: ada.id } })).deleteUser.__typename).toBe('LastOwnerError');
    await t.run(UpdateRoles, { input: { organizationId: org, userId: bob.id, roleIds: [owner.id] } });
    expect((await t.run(DeleteUser, { input: { userId: ada.id } })).deleteUser).toEqual({ __typename: 'DeleteUserSuccess', deletedUserId: ada.id });
    expect(await memberIds(org)).toEqual([bob.id]);
    expect(await memberIds(side)).toEqual([]);
    expect(await removedLog(org)).toEqual([
      {
        type: 'ORGANIZATION_MEMBER_REMOVED',
        userId: ada.id,
        organizationId: org,
        data: { organization: { id: org, name: 'Deletion Handed Over', slug: 'deletion-handed-over' }, membership: { id: expect.any(String), userId: ada.id, roles: ['owner'] }, via: 'user_deleted' },
      },
    ]);
    expect(await removedLog(side)).toMatchObject([{ userId: ada.id, data: { membership: { roles: ['member'] }, via: 'user_deleted' } }]);
    // Recorded before user.deleted, in the same transaction.
    const types = (await t.app.database.client.event.findMany({ where: { userId: ada.id }, orderBy: { seq: 'asc' } })).map((e) => e.type);
    expect(types.slice(-3)).toEqual(['organization.member_removed', 'organization.member_removed', 'user.deleted']);
  });

  it('deletes a plain member, and a member of an organization nobody owns, recording member_removed', async () => {
    const org = await newOrg('Deletion Of Member');
    const ownerless = await newOrg('Deletion Ownerless');
    const ada = await seed(t).user();
    const bob = await seed(t).user();
    await addMember(org, ada.id, [owner.id]);
    await addMember(org, bob.id);
    await addMember(ownerless, bob.id);
    expect((await t.run(DeleteUser, { input: { userId: bob.id } })).deleteUser.__typename).toBe('DeleteUserSuccess');
    expect(await memberIds(org)).toEqual([ada.id]);
    expect((await removedLog(org)).map((e) => [e.userId, (e.data as { via: string }).via])).toEqual([[bob.id, 'user_deleted']]);
    expect((await removedLog(ownerless)).map((e) => e.userId)).toEqual([bob.id]);
  });
});

describe('the owner rule when a role loses the owner permission', () => {
  const permissionId = async (key: string) => (await t.app.database.client.permission.findUniqueOrThrow({ where: { key }, select: { id: true } })).id;
  let n = 0;
  /** A fresh ORGANIZATION role granting the owner permission (and organization:update), so each test owns its roles. */
  const ownerRole = () => seedRole(t, { key: `owner-path-${++n}`, permissions: ['organization:delete', 'organization:update'] });
  const dropOwnerPermission = async (roleId: string) =>
    (await t.run(SetRolePermissions, { input: { roleId, permissionIds: [await permissionId('organization:update')] } })).setRolePermissions;
  const permissionsOf = async (roleId: string) =>
    (await t.app.database.client.rolePermission.findMany({ where: { roleId }, select: { permission: { select: { key: true } } } })).map((r) => r.permission.key).sort();

  it('refuses while the members of some organization hold the permission only through the role', async () => {
    const captain = await ownerRole();
    const deputy = await ownerRole();
    const kept = await newOrg('Role Path Kept');
    const orphan = await newOrg('Role Path Orphan');
    const [ada, bob, cara] = [await seed(t).user(), await seed(t).user(), await seed(t).user()];
    await addMember(kept, ada.id, [captain.id]);
    await addMember(kept, bob.id, [deputy.id]);
    // Two members, both owners through captain only.
    await addMember(orphan, cara.id, [captain.id, member.id]);
    await addMember(orphan, bob.id, [captain.id]);
    expect(await dropOwnerPermission(captain.id)).toMatchObject({ __typename: 'LastOwnerError', permission: 'organization:delete', organizationId: orphan });
    expect(await permissionsOf(captain.id)).toEqual(['organization:delete', 'organization:update']);
    const updates = await t.app.database.client.event.findMany({ where: { type: 'role.permissions_updated' } });
    expect(updates.filter((e) => (e.data as { role: { id: string } }).role.id === captain.id)).toEqual([]);
  });

  it('allows it when every organization keeps an owner through another role', async () => {
    const captain = await ownerRole();
    const deputy = await ownerRole();
    const one = await newOrg('Role Path One');
    const two = await newOrg('Role Path Two');
    const [ada, bob, cara] = [await seed(t).user(), await seed(t).user(), await seed(t).user()];
    await addMember(one, ada.id, [captain.id]);
    await addMember(one, bob.id, [deputy.id]);
    // One member holding it through both roles keeps it.
    await addMember(two, cara.id, [captain.id, deputy.id]);
    expect(await dropOwnerPermission(captain.id)).toEqual({ __typename: 'SetRolePermissionsSuccess', removed: ['organization:delete'] });
    expect(await permissionsOf(captain.id)).toEqual(['organization:update']);
    // The rule is about the organizations: bob is now the one owner of `one`.
    expect((await t.run(RemoveMember, { input: { organizationId: one, userId: bob.id } })).removeOrganizationMember.__typename).toBe('LastOwnerError');
  });

  it('allows it when nobody holds the role, and for GLOBAL roles', async () => {
    const unheld = await ownerRole();
    expect(await dropOwnerPermission(unheld.id)).toMatchObject({ __typename: 'SetRolePermissionsSuccess' });
    const staffOwner = await seedRole(t, { key: 'global-owner-path', scope: 'GLOBAL', permissions: ['organization:delete', 'organization:update'] });
    expect(await dropOwnerPermission(staffOwner.id)).toMatchObject({ __typename: 'SetRolePermissionsSuccess', removed: ['organization:delete'] });
  });
});

describe('deleting an organization', () => {
  it('takes its memberships along and records organization.deleted', async () => {
    const org = await newOrg('Doomed');
    const ada = await seed(t).user();
    await addMember(org, ada.id, [owner.id]);
    expect((await t.run(DeleteOrg, { input: { id: org } })).deleteOrganization).toEqual({ __typename: 'DeleteOrganizationSuccess', deletedOrganizationId: org });
    expect((await t.run(ReadOrg, { id: org })).organization).toBeNull();
    expect((await t.run(UserMemberships, { id: ada.id })).user?.memberships).toEqual([]);
    expect((await eventsOf(org)).at(-1)).toMatchObject({ type: 'organization.deleted', organizationId: org });
    expect((await t.run(DeleteOrg, { input: { id: org } })).deleteOrganization).toMatchObject({ __typename: 'NotFoundError' });
  });
});

describe('no N+1', () => {
  const firstTable = (sql: string) => /FROM\s+[`"]?(?:\w+[`"]?\.)?[`"]?(\w+)/i.exec(sql)?.[1] ?? sql;

  async function orgWith(n: number): Promise<string> {
    const org = await newOrg(`Sized ${n}`);
    for (let i = 0; i < n; i++) await addMember(org, (await seed(t).user()).id, i === 0 ? [owner.id, member.id] : undefined);
    return org;
  }

  it('reads members with their users, roles and permissions in the same queries for 3 members as for 30', async () => {
    const small = await orgWith(3);
    const large = await orgWith(30);
    queries.length = 0;
    const few = await t.run(MembersWithUsers, { id: small });
    const fewPlan = queries.map(firstTable);
    queries.length = 0;
    const many = await t.run(MembersWithUsers, { id: large });
    const manyPlan = queries.map(firstTable);
    expect(few.organization!.members.edges).toHaveLength(3);
    expect(many.organization!.members.edges).toHaveLength(30);
    expect(many.organization!.members.edges[0].node.roles.map((r) => r.key)).toEqual(['member', 'owner']);
    expect(many.organization!.members.edges[0].node.permissions).toEqual(['organization:delete', 'organization:read', 'organization:update']);
    expect(many.organization!.members.edges[1].node.permissions).toEqual(['organization:read']);
    expect(many.organization!.members.edges[1].node.user.email).toMatch(/@example\.com$/);
    expect(fewPlan.length).toBeGreaterThan(0);
    // The organization, its page of members, their users, their role links, the roles, and (batched) every member's permissions: one query each.
    // (The permissions query runs beside the relation loads, so the order of the last ones varies.)
    expect([...manyPlan].sort()).toEqual([...fewPlan].sort());
    expect([...manyPlan].sort()).toEqual(['Membership', 'Membership', 'MembershipRole', 'Organization', 'Role', 'User']);
  });
});
