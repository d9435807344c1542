/**
 * Organization claims from an attacker's side: the gateway never trusts what
 * a token says about roles or permissions (a token outlives a role change by
 * up to its lifetime; the gateway's own checks read the roles now), a token
 * with forged claims is not an access token at all, and a non-member cannot
 * sign in to an organization by naming it at any step.
 */
import { SignJWT, decodeJwt, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { seed, seedRole, type SeededUser } from './helpers/seed.js';

const PASSWORD = 'correct horse battery staple';

const Login = graphql(`
  mutation OrgAccessLogin($input: LoginInput!) {
    login(input: $input) { __typename ... on LoginSuccess { accessToken refreshToken } ... on Error { code } }
  }
`);
const Refresh = graphql(`
  mutation OrgAccessRefresh($input: RefreshSessionInput!) {
    refreshSession(input: $input) { __typename ... on RefreshSessionSuccess { accessToken } ... on Error { code } }
  }
`);
const Effective = graphql(`
  query OrgAccessEffective($userId: ID!, $organizationId: ID) {
    effectivePermissions(userId: $userId, organizationId: $organizationId)
  }
`);

let t: TestApp;
let acme: string;
let other: string;
let ada: SeededUser;
let bob: SeededUser;
let manager: { id: string };
let plain: { id: string };

beforeAll(async () => {
  t = await createTestApp();
  const s = t.app.services;
  manager = await seedRole(t, { key: 'manager', permissions: ['organization:members:read', 'organization:delete'] });
  plain = await seedRole(t, { key: 'plain', permissions: ['invoice:read'] });
  acme = (await s.organizations.createOrganization({ name: 'Acme' }, systemMeta)).id;
  other = (await s.organizations.createOrganization({ name: 'Other' }, systemMeta)).id;
  ada = await seed(t).user({ password: PASSWORD });
  bob = await seed(t).user({ password: PASSWORD });
  await s.organizations.addMember({ organizationId: acme, userId: ada.id, roleIds: [manager.id] }, systemMeta);
  await s.organizations.addMember({ organizationId: acme, userId: bob.id, roleIds: [manager.id, plain.id] }, systemMeta);
});
afterAll(() => t?.close());

const login = async (user: SeededUser, organizationId?: string) =>
  (await t.run(Login, { input: { identifier: user.email!, password: PASSWORD, organizationId } }, { token: null })).login as { accessToken: string; refreshToken: string; __typename: string };

describe('organization claims', () => {
  it('are not what the gateway authorizes by: a permission taken away counts at once, whatever the token still says', async () => {
    const { accessToken } = await login(ada, acme);
    expect(decodeJwt(accessToken).permissions).toContain('organization:members:read');
    expect((await t.run(Effective, { userId: bob.id, organizationId: acme }, { token: accessToken })).effectivePermissions).toEqual([
      'invoice:read',
      'organization:delete',
      'organization:members:read',
    ]);
    await t.app.services.organizations.updateMemberRoles({ organizationId: acme, userId: ada.id, roleIds: [plain.id] }, systemMeta);
    // The same token, still claiming the permission.
    expect(decodeJwt(accessToken).permissions).toContain('organization:members:read');
    const refused = await t.exec(Effective, { userId: bob.id, organizationId: acme }, { token: accessToken });
    expect(refused.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'MISSING_PERMISSION' });
  });

  it('forged into a token signed with another key make no caller', async () => {
    const { privateKey } = await generateKeyPair('EdDSA');
    const forged = await new SignJWT({ sid: 'ses_x', org_id: acme, permissions: ['organization:members:read'] })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' })
      .setSubject(ada.id)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const result = await t.exec(Effective, { userId: bob.id, organizationId: acme }, { token: forged });
    expect(result.errors?.[0].extensions?.code).toMatch(/UNAUTHENTICATED|FORBIDDEN/);
    expect(result.data?.effectivePermissions ?? null).toBeNull();
  });

  it('cannot be had for an organization one is not a member of, at sign-in or by a refresh', async () => {
    expect((await login(bob, other)).__typename).toBe('NotAMemberError');
    const { refreshToken } = await login(bob, acme);
    const switched = (await t.run(Refresh, { input: { refreshToken, organizationId: other } }, { token: null })).refreshSession;
    expect(switched).toMatchObject({ __typename: 'NotAMemberError', code: 'NOT_A_MEMBER' });
    // The refusal spent nothing and did not move the session: the next refresh still speaks for acme.
    const kept = (await t.run(Refresh, { input: { refreshToken } }, { token: null })).refreshSession as { accessToken: string };
    expect(decodeJwt(kept.accessToken).org_id).toBe(acme);
  });
});
