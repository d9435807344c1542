/**
 * No N+1: listing users with their auth methods costs a fixed number of SQL
 * statements, whatever the page size (plugin-prisma merges selections).
 * The count is exact, not only an upper bound: a query log that saw nothing
 * (logging switched off, a renamed hook) must fail this test, not pass it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newAuthMethodId } from '../src/modules/auth-methods/kinds.js';
import { newId } from '../src/kernel/ids.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const ListWithMethods = graphql(`
  query ListWithMethods($first: Int!) {
    users(first: $first, orderBy: { field: EMAIL, direction: ASC }) {
      totalCount
      edges {
        node {
          id
          email
          hasPassword
          mfaEnabled
          authMethods {
            id
            kind
            verified
            lastUsedAt
            ... on BackupCodesMethod { remaining }
            ... on OtpSmsMethod { phone }
          }
        }
      }
    }
  }
`);

let t: TestApp;
const queries: string[] = [];

beforeAll(async () => {
  t = await createTestApp({ onQuery: (sql) => queries.push(sql) });
  const db = t.app.database.client;
  for (let i = 0; i < 50; i++) {
    const id = newId('User');
    const email = `n${String(i).padStart(2, '0')}@example.com`;
    await db.user.create({ data: { id, email, emailNormalized: email, phone: '+14155550123' } });
    await db.authMethod.createMany({
      data: [
        { id: newAuthMethodId('PASSWORD'), userId: id, kind: 'PASSWORD', slot: `${id}:PASSWORD`, verified: true, secret: '$argon2id$placeholder' },
        { id: newAuthMethodId('TOTP'), userId: id, kind: 'TOTP', slot: `${id}:TOTP`, verified: i % 2 === 0 },
        { id: newAuthMethodId('BACKUP_CODES'), userId: id, kind: 'BACKUP_CODES', slot: `${id}:BACKUP_CODES`, verified: true },
        { id: newAuthMethodId('OTP_SMS'), userId: id, kind: 'OTP_SMS', slot: `${id}:OTP_SMS`, verified: true },
      ],
    });
  }
});
afterAll(() => t.close());

it('lists 49 users with their auth methods in a fixed number of queries, the same for 5', async () => {
  queries.length = 0;
  // 49 of the 50: the page (and the row it looks ahead at) stays among users with an email.
  const data = await t.run(ListWithMethods, { first: 49 });
  const nodes = data.users.edges.map((e) => e.node);
  expect(nodes).toHaveLength(49);
  expect(data.users.totalCount).toBe(50);
  expect(nodes[0]).toMatchObject({ email: 'n00@example.com', hasPassword: true, mfaEnabled: true });
  expect(nodes[0].authMethods.map((m) => m.kind).sort()).toEqual(['BACKUP_CODES', 'OTP_SMS', 'PASSWORD', 'TOTP']);
  expect(nodes[0].authMethods.find((m) => m.kind === 'OTP_SMS')).toMatchObject({ phone: '+1 ••• ••• 0123' });
  // Reads only, one per table access: the page (with hasPassword's count), all its auth methods at once,
  // their users for the phone and backup codes left, totalCount, and mfaEnabled's count. The bootstrap
  // key touches no table. A changed plan (a plugin upgrade) changes this list: update it knowingly.
  const PLAN = ['User', 'AuthMethod', 'User', 'User', 'User'];
  expect(queries.map(firstTable)).toEqual(PLAN);
  expect(queries.every((q) => /^\s*SELECT/i.test(q))).toBe(true);

  // The same operation for 5 users runs the same statements: no per-row queries.
  queries.length = 0;
  const few = await t.run(ListWithMethods, { first: 5 });
  expect(few.users.edges).toHaveLength(5);
  expect(queries.map(firstTable)).toEqual(PLAN);
});

it('reads the users without an email in one more page read (with its selections) once a page runs past the last address, whatever its size', async () => {
  // 50 users, all with an email: `first: 50` looks one row further (for hasNextPage), past the last
  // address, into the block of users without one (they sort last; see findUserPage).
  const PAST_THE_END = ['User', 'AuthMethod', 'User', 'User', 'AuthMethod', 'User', 'User', 'User'];
  for (const first of [50, 60]) {
    queries.length = 0;
    const all = await t.run(ListWithMethods, { first });
    expect(all.users.edges).toHaveLength(50);
    expect(queries.map(firstTable)).toEqual(PAST_THE_END);
  }
});

/** The first table a statement reads (both providers qualify names with their schema). */
function firstTable(sql: string): string | undefined {
  return /FROM\s+[`"](?:main|public)[`"]\.[`"](\w+)[`"]/i.exec(sql)?.[1];
}
