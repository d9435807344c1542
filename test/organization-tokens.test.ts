/**
 * Access tokens that speak for an organization, checked as a back end would:
 * a remote JWKS client (jose.createRemoteJWKSet) against the started
 * gateway's /.well-known/jwks.json verifies every token, then the claims are
 * read. login, completeMfaLogin and refreshSession take organizationId; a
 * non-member is refused with nothing opened or spent; roles changed since are
 * in the next refresh; a user who left refreshes without the organization.
 * Global roles and Hasura's block come with their settings. The checks `can`
 * and `effectivePermissions` answer from the same roles.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { totpCode, totpStep } from '../src/modules/totp/service.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { seed, seedRole, type SeededUser } from './helpers/seed.js';

const ISSUER = 'https://id.example.test';
const AUDIENCE = 'orders-api';
const PASSWORD = 'correct horse battery staple';

const Login = graphql(`
  mutation OrgTokensLogin($input: LoginInput!) {
    login(input: $input) {
      __typename
      ... on LoginSuccess { accessToken refreshToken }
      ... on MfaRequired { mfaToken }
      ... on NotAMemberError { code organizationId }
      ... on Error { code }
    }
  }
`);
const CompleteMfa = graphql(`
  mutation OrgTokensCompleteMfa($input: CompleteMfaLoginInput!) {
    completeMfaLogin(input: $input) {
      __typename
      ... on CompleteMfaLoginSuccess { accessToken refreshToken }
      ... on Error { code }
    }
  }
`);
const Refresh = graphql(`
  mutation OrgTokensRefresh($input: RefreshSessionInput!) {
    refreshSession(input: $input) {
      __typename
      ... on RefreshSessionSuccess { accessToken refreshToken }
      ... on Error { code }
    }
  }
`);
const Can = graphql(`
  query OrgTokensCan($input: CanInput!) {
    can(input: $input)
  }
`);
const Effective = graphql(`
  query OrgTokensEffective($userId: ID!, $organizationId: ID) {
    effectivePermissions(userId: $userId, organizationId: $organizationId)
  }
`);

const clock = manualClock();
let t: TestApp;
let jwks: ReturnType<typeof createRemoteJWKSet>;
let acme: string;
let globex: string;
let ada: SeededUser;
let bob: SeededUser;
let admin: { id: string };
let viewer: { id: string };
let lead: { id: string };

/** Verified with nothing but the gateway's published keys, as a resource server does. */
async function claims(token: string): Promise<JWTPayload & Record<string, unknown>> {
  const { payload } = await jwtVerify(token, jwks, { issuer: ISSUER, audience: AUDIENCE, currentDate: clock.now() });
  return payload as never;
}

beforeAll(async () => {
  t = await createTestApp({
    clock,
    env: { HOST: '127.0.0.1', PORTCULLIS_ISSUER: ISSUER, PORTCULLIS_AUDIENCE: AUDIENCE, PORTCULLIS_TOKEN_ROLES: 'true', PORTCULLIS_TOKEN_HASURA_CLAIMS: 'true' },
  });
  const { url } = await t.app.start();
  jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', url));
  const s = t.app.services;
  admin = await seedRole(t, { key: 'admin', permissions: ['invoice:read', 'invoice:write', 'organization:delete', 'organization:members:read'] });
  viewer = await seedRole(t, { key: 'viewer', permissions: ['invoice:read'] });
  lead = await seedRole(t, { key: 'support', scope: 'GLOBAL', permissions: ['tickets:read'] });
  acme = (await s.organizations.createOrganization({ name: 'Acme' }, systemMeta)).id;
  globex = (await s.organizations.createOrganization({ name: 'Globex' }, systemMeta)).id;
  ada = await seed(t).user({ password: PASSWORD });
  bob = await seed(t).user({ password: PASSWORD }).withTotp();
  await s.organizations.addMember({ organizationId: acme, userId: ada.id, roleIds: [admin.id] }, systemMeta);
  await s.organizations.addMember({ organizationId: acme, userId: bob.id, roleIds: [viewer.id] }, systemMeta);
  await s.roles.assignUserRoles(ada.id, [lead.id], systemMeta);
});
afterAll(() => t?.close());

async function login(user: SeededUser, organizationId?: string | null) {
  return (await t.run(Login, { input: { identifier: user.email!, password: PASSWORD, organizationId } }, { token: null })).login;
}

describe('signing in to an organization', () => {
  it('puts the organization, the member roles and their permissions in the access token', async () => {
    const result = await login(ada, acme);
    expect(result.__typename).toBe('LoginSuccess');
    const c = await claims((result as { accessToken: string }).accessToken);
    expect(c.sub).toBe(ada.id);
    expect(c).toMatchObject({ org_id: acme, org_slug: 'acme', org_roles: ['admin'], roles: ['support'] });
    expect(c.permissions).toEqual(['invoice:read', 'invoice:write', 'organization:delete', 'organization:members:read']);
    expect(c['https://hasura.io/jwt/claims']).toEqual({
      'x-hasura-user-id': ada.id,
      'x-hasura-default-role': 'user',
      'x-hasura-allowed-roles': ['user', 'support', 'admin'],
      'x-hasura-org-id': acme,
    });
  });

  it('without an organization carries none of its claims, but the global roles', async () => {
    const result = await login(ada);
    const c = await claims((result as { accessToken: string }).accessToken);
    expect(c.org_id).toBeUndefined();
    expect(c.permissions).toBeUndefined();
    expect(c.roles).toEqual(['support']);
    expect(c['https://hasura.io/jwt/claims']).toEqual({ 'x-hasura-user-id': ada.id, 'x-hasura-default-role': 'user', 'x-hasura-allowed-roles': ['user', 'support'] });
  });

  it('refuses an organization the user is not a member of, and one that does not exist, alike, opening no session', async () => {
    const sessionsBefore = await t.app.database.client.session.count({ where: { userId: ada.id } });
    expect(await login(ada, globex)).toEqual({ __typename: 'NotAMemberError', code: 'NOT_A_MEMBER', organizationId: globex });
    expect(await login(ada, 'org_00000000000000000000000000')).toMatchObject({ __typename: 'NotAMemberError', code: 'NOT_A_MEMBER' });
    expect(await t.app.database.client.session.count({ where: { userId: ada.id } })).toBe(sessionsBefore);
  });

  it('keeps the organization login named through the second factor', async () => {
    const first = await login(bob, acme);
    expect(first.__typename).toBe('MfaRequired');
    // The enrolment used this step's code: the next step's is the first one left.
    clock.advance(30_000);
    const code = () => totpCode(bob.totp!.secret, totpStep(clock.now()));
    const done = (await t.run(CompleteMfa, { input: { mfaToken: (first as { mfaToken: string }).mfaToken, method: 'TOTP', code: code() } }, { token: null })).completeMfaLogin;
    expect(done.__typename).toBe('CompleteMfaLoginSuccess');
    expect(await claims((done as { accessToken: string }).accessToken)).toMatchObject({ org_id: acme, org_roles: ['viewer'], permissions: ['invoice:read'] });
  });
});

describe('refreshing', () => {
  it('reads the roles afresh, switches organization, and leaves the refresh token unspent when refused', async () => {
    const signedIn = (await login(ada, acme)) as { refreshToken: string };
    await t.app.services.organizations.updateMemberRoles({ organizationId: acme, userId: ada.id, roleIds: [admin.id, viewer.id] }, systemMeta);
    const again = (await t.run(Refresh, { input: { refreshToken: signedIn.refreshToken } }, { token: null })).refreshSession as { accessToken: string; refreshToken: string };
    expect(await claims(again.accessToken)).toMatchObject({ org_id: acme, org_roles: ['admin', 'viewer'] });

    const refused = (await t.run(Refresh, { input: { refreshToken: again.refreshToken, organizationId: globex } }, { token: null })).refreshSession;
    expect(refused).toEqual({ __typename: 'NotAMemberError', code: 'NOT_A_MEMBER' });
    // Refused before anything was spent: the same refresh token still works.
    const left = (await t.run(Refresh, { input: { refreshToken: again.refreshToken, organizationId: null } }, { token: null })).refreshSession as {
      __typename: string;
      accessToken: string;
      refreshToken: string;
    };
    expect(left.__typename).toBe('RefreshSessionSuccess');
    const none = await claims(left.accessToken);
    expect(none.org_id).toBeUndefined();
    expect(none.roles).toEqual(['support']);
    // Leaving is remembered by the session: the next refresh has no organization either.
    const still = (await t.run(Refresh, { input: { refreshToken: left.refreshToken } }, { token: null })).refreshSession as { accessToken: string };
    expect((await claims(still.accessToken)).org_id).toBeUndefined();
  });

  it('goes on without the organization once the user has left it', async () => {
    const carol = await seed(t).user({ password: PASSWORD });
    await t.app.services.organizations.addMember({ organizationId: acme, userId: carol.id, roleIds: [viewer.id] }, systemMeta);
    const signedIn = (await login(carol, acme)) as { refreshToken: string; accessToken: string };
    expect((await claims(signedIn.accessToken)).org_id).toBe(acme);
    await t.app.services.organizations.removeMember({ organizationId: acme, userId: carol.id }, systemMeta);
    const after = (await t.run(Refresh, { input: { refreshToken: signedIn.refreshToken } }, { token: null })).refreshSession as { accessToken: string };
    const c = await claims(after.accessToken);
    expect(c.org_id).toBeUndefined();
    expect(c.org_roles).toBeUndefined();
    expect(c.permissions).toBeUndefined();
  });
});

describe('checks', () => {
  it('answers from the organization roles inside an organization and from the global roles outside', async () => {
    const can = async (userId: string, permission: string, organizationId?: string) => (await t.run(Can, { input: { userId, permission, organizationId } })).can;
    expect(await can(bob.id, 'invoice:read', acme)).toBe(true);
    expect(await can(bob.id, 'invoice:write', acme)).toBe(false);
    expect(await can(bob.id, 'invoice:read', globex)).toBe(false);
    expect(await can(ada.id, 'tickets:read')).toBe(true);
    // A global role grants nothing inside an organization, and an organization role nothing outside.
    expect(await can(ada.id, 'tickets:read', acme)).toBe(false);
    expect(await can(ada.id, 'invoice:read')).toBe(false);
    expect((await t.run(Effective, { userId: bob.id, organizationId: acme })).effectivePermissions).toEqual(['invoice:read']);
    expect((await t.run(Effective, { userId: ada.id })).effectivePermissions).toEqual(['tickets:read']);
  });

  it('lets a user check itself, and a member holding organization:members:read check others in its organization only', async () => {
    const adaToken = ((await login(ada)) as { accessToken: string }).accessToken;
    const bobToken = (await seed(t).user({ password: PASSWORD }).signedIn()).session!.accessToken;
    expect((await t.run(Effective, { userId: ada.id }, { token: adaToken })).effectivePermissions).toEqual(['tickets:read']);
    expect((await t.run(Effective, { userId: bob.id, organizationId: acme }, { token: adaToken })).effectivePermissions).toEqual(['invoice:read']);
    const elsewhere = await t.exec(Effective, { userId: bob.id, organizationId: globex }, { token: adaToken });
    expect(elsewhere.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'MISSING_PERMISSION', permission: 'organization:members:read' });
    const global = await t.exec(Can, { input: { userId: bob.id, permission: 'invoice:read' } }, { token: adaToken });
    expect(global.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_SELF' });
    const outsider = await t.exec(Can, { input: { userId: ada.id, permission: 'invoice:read', organizationId: acme } }, { token: bobToken });
    expect(outsider.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'MISSING_PERMISSION' });
  });
});
