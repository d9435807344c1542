/**
 * The owner rule over more organizations than one statement may bind
 * parameters for (32,766 on SQLite, 65,535 on PostgreSQL). setRolePermissions
 * taking the owner permission from a role, and deleteUser, lock every
 * organization where members hold the role (or the user is a member): a list
 * as long as the data makes it. Passed one parameter per id, the lock failed
 * and the client got a masked unexpected error instead of LastOwnerError or
 * success. The organizations are seeded with one INSERT … SELECT per table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { testProvider } from './helpers/db.js';
import { seed, seedRole } from './helpers/seed.js';

const SetRolePermissions = graphql(`
  mutation OrgsScaleSetRolePermissions($input: SetRolePermissionsInput!) {
    setRolePermissions(input: $input) {
      __typename
      ... on SetRolePermissionsSuccess { removed }
      ... on LastOwnerError { permission organizationId message }
      ... on Error { code }
    }
  }
`);
const DeleteUser = graphql(`
  mutation OrgsScaleDeleteUser($input: DeleteUserInput!) {
    deleteUser(input: $input) {
      __typename
      ... on LastOwnerError { permission organizationId }
      ... on Error { code }
    }
  }
`);

/** Just past the provider's limit on bound parameters. */
const COUNT = testProvider === 'postgresql' ? 66_000 : 33_000;
const TIMEOUT = 180_000;
/** Zero-padded, so id order is number order. */
const orgId = (n: number) => `org_scale_${String(n).padStart(6, '0')}`;

let t: TestApp;
let captain: { id: string };
let deputy: { id: string };
let updateOnly: string;
let userId: string;

/** Rows 1..COUNT from one statement: PostgreSQL's generate_series, SQLite's recursive CTE. */
const series = (select: string) =>
  testProvider === 'postgresql'
    ? `${select.replaceAll('{n}', `lpad(n::text, 6, '0')`)} FROM generate_series(1, ${COUNT}) AS n`
    : `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${COUNT}) ${select.replaceAll('{n}', `substr('000000' || n, -6)`)} FROM s`;

beforeAll(async () => {
  t = await createTestApp();
  // captain grants the owner permission (the one the members hold it through); deputy is the second path.
  captain = await seedRole(t, { key: 'scale-captain', permissions: ['organization:delete', 'organization:update'] });
  deputy = await seedRole(t, { key: 'scale-deputy', permissions: ['organization:delete'] });
  updateOnly = (await t.app.database.client.permission.findUniqueOrThrow({ where: { key: 'organization:update' } })).id;
  userId = (await seed(t).user()).id;
  const db = t.app.database.client;
  const [json, now] = testProvider === 'postgresql' ? [`'{}'::jsonb`, 'CURRENT_TIMESTAMP'] : [`'{}'`, `'2026-01-01T00:00:00.000+00:00'`];
  await db.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(
      `INSERT INTO "Organization" ("id", "name", "slug", "publicMetadata", "privateMetadata", "createdAt", "updatedAt") ` +
        series(`SELECT 'org_scale_' || {n}, 'Scale ' || {n}, 'scale-' || {n}, ${json}, ${json}, ${now}, ${now}`),
    );
    await tx.$executeRawUnsafe(
      `INSERT INTO "Membership" ("id", "organizationId", "userId", "createdAt") ` + series(`SELECT 'mem_scale_' || {n}, 'org_scale_' || {n}, '${userId}', ${now}`),
    );
    await tx.$executeRawUnsafe(`INSERT INTO "MembershipRole" ("membershipId", "roleId") SELECT "id", '${captain.id}' FROM "Membership" WHERE "userId" = '${userId}'`);
  }, { timeout: TIMEOUT });
  expect(await db.membershipRole.count({ where: { roleId: captain.id } })).toBe(COUNT);
}, TIMEOUT);
afterAll(async () => t?.close());

describe(`the owner rule over ${COUNT} organizations`, () => {
  it('deleteUser refuses with LastOwnerError for the last owner of them all', { timeout: TIMEOUT }, async () => {
    expect((await t.run(DeleteUser, { input: { userId } })).deleteUser).toEqual({
      __typename: 'LastOwnerError',
      code: 'LAST_OWNER',
      permission: 'organization:delete',
      organizationId: orgId(1),
    });
    expect(await t.app.database.client.membership.count({ where: { userId } })).toBe(COUNT);
  });

  it('setRolePermissions answers LastOwnerError while the role is the only owner path, and succeeds once another role is one', { timeout: TIMEOUT }, async () => {
    const drop = async () => (await t.run(SetRolePermissions, { input: { roleId: captain.id, permissionIds: [updateOnly] } })).setRolePermissions;
    expect(await drop()).toEqual({
      __typename: 'LastOwnerError',
      code: 'LAST_OWNER',
      permission: 'organization:delete',
      organizationId: orgId(1),
      message: `The members of organization ${orgId(1)} and ${COUNT - 1} other organization(s) hold organization:delete only through this role: give it to a member through another role first.`,
    });
    const db = t.app.database.client;
    expect(await db.rolePermission.count({ where: { roleId: captain.id } })).toBe(2);

    await db.$executeRawUnsafe(`INSERT INTO "MembershipRole" ("membershipId", "roleId") SELECT "id", '${deputy.id}' FROM "Membership" WHERE "userId" = '${userId}'`);
    expect(await drop()).toEqual({ __typename: 'SetRolePermissionsSuccess', removed: ['organization:delete'] });
    expect((await db.rolePermission.findMany({ where: { roleId: captain.id }, select: { permissionId: true } })).map((r) => r.permissionId)).toEqual([updateOnly]);
  });
});
