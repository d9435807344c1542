/**
 * External identity providers through the API, against real providers on
 * 127.0.0.1: oidc-provider (a certified OpenID provider: PKCE, nonce,
 * redirect URIs and client authentication checked for real) and a
 * GitHub-shaped OAuth 2.0 server. Providers are managed with their secrets
 * never returned; an intent goes to the provider, comes back through the
 * gateway's callback, is retrieved, and signs a user in (with the MFA step-up
 * for a user with TOTP), registers one (createUser with idpIntent) or links
 * one (linkIdpIntent, after a recent sign-in); links are added and removed
 * (never the last way to sign in); kept provider tokens are encrypted and
 * refreshed for IdpLink.accessToken; every change records its event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptSecret } from '../src/kernel/crypto.js';
import { manualClock } from '../src/kernel/clock.js';
import { totpCode, totpStep } from '../src/modules/totp/service.js';
import { graphql } from './gql/index.js';
import type { CreateIdentityProviderInput } from './gql/graphql.js';
import { ENCRYPTION_KEY } from './helpers/app.js';
import { completeCallback, FAILURE_URL, startGitHubStub, startIdpGateway, SUCCESS_URL, type GitHubStub, type IdpGateway } from './helpers/identity-providers.js';
import { startOidcProvider, type TestOidcProvider } from './helpers/oidc-provider.js';
import { seed } from './helpers/seed.js';

const CreateProvider = graphql(`
  mutation IdpCreateProvider($input: CreateIdentityProviderInput!) {
    createIdentityProvider(input: $input) {
      __typename
      ... on CreateIdentityProviderSuccess {
        identityProvider { id name kind issuer clientId hasClientSecret scopes linkPolicy trustEmail storeTokens enabled callbackUrl authorizationEndpoint emailsEndpoint claimMapping }
      }
      ... on Error { code message }
      ... on InvalidInputError { field }
      ... on AlreadyExistsError { field }
    }
  }
`);
const UpdateProvider = graphql(`
  mutation IdpUpdateProvider($input: UpdateIdentityProviderInput!) {
    updateIdentityProvider(input: $input) {
      __typename
      ... on UpdateIdentityProviderSuccess { identityProvider { id name hasClientSecret linkPolicy enabled scopes } }
      ... on Error { code message }
    }
  }
`);
const DeleteProvider = graphql(`
  mutation IdpDeleteProvider($input: DeleteIdentityProviderInput!) {
    deleteIdentityProvider(input: $input) {
      __typename
      ... on DeleteIdentityProviderSuccess { deletedIdentityProviderId linksRemoved }
      ... on IdentityProviderInUseError { links }
      ... on Error { code }
    }
  }
`);
const ListProviders = graphql(`
  query IdpListProviders {
    identityProviders(first: 50) { totalCount edges { node { id name kind } } }
  }
`);
const StartIntent = graphql(`
  mutation IdpStartIntent($input: StartIdpIntentInput!) {
    startIdpIntent(input: $input) {
      __typename
      ... on StartIdpIntentSuccess { intentId authUrl expiresAt }
      ... on Error { code message }
      ... on InvalidInputError { field }
    }
  }
`);
const RetrieveIntent = graphql(`
  mutation IdpRetrieveIntent($input: IdpIntentInput!) {
    retrieveIdpIntent(input: $input) {
      __typename
      ... on RetrieveIdpIntentSuccess {
        intentId
        purpose
        idpInformation { identityProvider { id } subject username email emailVerified name givenName familyName picture rawInformation }
        user { id }
        idpLink { id }
        linkCandidate { id email }
      }
      ... on IdpIntentFailedError { reason }
      ... on Error { code }
    }
  }
`);
const LoginWithIntent = graphql(`
  mutation IdpLoginWithIntent($input: LoginWithIdpIntentInput!) {
    loginWithIdpIntent(input: $input) {
      __typename
      ... on LoginWithIdpIntentSuccess { accessToken refreshToken user { id email } session { id } }
      ... on MfaRequired { mfaToken methods }
      ... on IdpNotLinkedError { linkCandidateUserId }
      ... on Error { code }
    }
  }
`);
const CompleteMfa = graphql(`
  mutation IdpCompleteMfa($input: CompleteMfaLoginInput!) {
    completeMfaLogin(input: $input) { __typename ... on CompleteMfaLoginSuccess { user { id } } ... on Error { code } }
  }
`);
const CreateUser = graphql(`
  mutation IdpCreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ... on CreateUserSuccess { user { id email emailVerified givenName familyName displayName idpLinks { id subject email emailVerified identityProvider { id } } } }
      ... on Error { code }
      ... on AlreadyExistsError { field }
    }
  }
`);
const LinkIntent = graphql(`
  mutation IdpLinkIntent($input: LinkIdpIntentInput!) {
    linkIdpIntent(input: $input) {
      __typename
      ... on LinkIdpIntentSuccess { user { id email } idpLink { id subject } }
      ... on Error { code }
    }
  }
`);
const AddLink = graphql(`
  mutation IdpAddLink($input: AddIdpLinkInput!) {
    addIdpLink(input: $input) {
      __typename
      ... on AddIdpLinkSuccess { user { id } idpLink { id subject username } }
      ... on Error { code }
      ... on AlreadyExistsError { field }
    }
  }
`);
const RemoveLink = graphql(`
  mutation IdpRemoveLink($input: RemoveIdpLinkInput!) {
    removeIdpLink(input: $input) {
      __typename
      ... on RemoveIdpLinkSuccess { removedIdpLinkId user { id idpLinks { id } } }
      ... on Error { code }
    }
  }
`);
const Reauthenticate = graphql(`
  mutation IdpReauthenticate($input: ReauthenticateInput!) {
    reauthenticate(input: $input) { __typename ... on Error { code } }
  }
`);
const UserLinks = graphql(`
  query IdpUserLinks($id: ID!) {
    user(id: $id) {
      id
      email
      emailVerified
      lastLoginAt
      idpLinks { id subject username email emailVerified lastUsedAt accessToken identityProvider { id name } }
      events(first: 100) { edges { node { type data } } }
    }
  }
`);
const ProviderEvents = graphql(`
  query IdpProviderEvents($types: [UserEventType!]) {
    events(first: 100, types: $types) { edges { node { type data } } }
  }
`);

const PASSWORD = 'correct horse battery staple';
const clock = manualClock(new Date());

let gw: IdpGateway;
let op: TestOidcProvider;
let github: GitHubStub;
/** The OIDC provider's id at the gateway. */
let oidcId: string;

const run: IdpGateway['t']['run'] = (...args) => gw.t.run(...args);

async function createProvider(input: CreateIdentityProviderInput) {
  const { createIdentityProvider: r } = await run(CreateProvider, { input });
  if (r.__typename !== 'CreateIdentityProviderSuccess') throw new Error(JSON.stringify(r));
  return r.identityProvider;
}

async function startIntent(idpId: string, extra: { purpose?: 'SIGN_IN' | 'LINK'; userId?: string } = {}, token?: string | null) {
  const { startIdpIntent: r } = await gw.t.run(StartIntent, { input: { idpId, successUrl: SUCCESS_URL, failureUrl: FAILURE_URL, ...extra } }, token === undefined ? undefined : { token });
  if (r.__typename !== 'StartIdpIntentSuccess') throw new Error(JSON.stringify(r));
  return r;
}

/** The whole browser trip at the OIDC provider as `login`: returns the intent's id and token from the success URL. */
async function oidcTrip(login: string, idpId = oidcId) {
  const { intentId, authUrl } = await startIntent(idpId);
  const outcome = await completeCallback(await op.signIn(authUrl, login));
  expect(outcome.status).toBe(303);
  expect(outcome.location?.origin + outcome.location!.pathname).toBe(SUCCESS_URL);
  expect(outcome.id).toBe(intentId);
  return { intentId, token: outcome.token! };
}

async function eventsOf(userId: string) {
  const { user } = await run(UserLinks, { id: userId });
  return user!.events.edges.map((e) => e.node);
}

beforeAll(async () => {
  github = await startGitHubStub();
  // The gateway's port is picked first: the provider's client names the callback as its redirect URI.
  gw = await startIdpGateway({ clock });
  op = await startOidcProvider({
    clients: [
      { client_id: 'portcullis', client_secret: 'oidc-client-secret-0123456789', redirect_uris: [gw.callbackUrl], grant_types: ['authorization_code', 'refresh_token'] },
    ],
  });
  op.accounts.set('ada', { sub: 'ada-sub-1', email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace', given_name: 'Ada', family_name: 'Lovelace', preferred_username: 'ada' });
  oidcId = (
    await createProvider({ name: 'Example OIDC', kind: 'OIDC', issuer: op.issuer, clientId: 'portcullis', clientSecret: 'oidc-client-secret-0123456789' })
  ).id;
}, 60_000);

afterAll(async () => {
  await gw?.t.close();
  await op?.close();
  await github?.close();
});

describe('managing providers', () => {
  it('creates, lists, updates and deletes providers; the client secret is encrypted and never returned', async () => {
    const created = await createProvider({ name: 'Acme SSO', kind: 'OIDC', issuer: 'https://sso.acme.example', clientId: 'acme-client', clientSecret: 's3cret-value-never-shown', linkPolicy: 'NONE' });
    expect(created).toMatchObject({ name: 'Acme SSO', kind: 'OIDC', issuer: 'https://sso.acme.example', hasClientSecret: true, scopes: ['openid', 'email', 'profile'], linkPolicy: 'NONE', enabled: true });
    expect(created.callbackUrl).toBe(gw.callbackUrl);
    const row = await gw.t.app.database.client.identityProvider.findUniqueOrThrow({ where: { id: created.id } });
    expect(row.clientSecretEncrypted).not.toContain('s3cret');
    expect(decryptSecret(Buffer.from(ENCRYPTION_KEY, 'base64'), row.clientSecretEncrypted!, created.id)).toBe('s3cret-value-never-shown');
    expect(JSON.stringify(await gw.t.exec(ListProviders))).not.toContain('s3cret');

    const duplicate = await run(CreateProvider, { input: { name: 'Acme SSO', kind: 'GOOGLE', clientId: 'x' } });
    expect(duplicate.createIdentityProvider).toMatchObject({ __typename: 'AlreadyExistsError', field: 'name' });

    const updated = await run(UpdateProvider, { input: { id: created.id, clientSecret: null, enabled: false, linkPolicy: 'PROMPT' } });
    expect(updated.updateIdentityProvider).toMatchObject({ identityProvider: { hasClientSecret: false, enabled: false, linkPolicy: 'PROMPT' } });

    const list = await run(ListProviders);
    expect(list.identityProviders.edges.map((e) => e.node.name)).toEqual(expect.arrayContaining(['Acme SSO', 'Example OIDC']));

    expect((await run(DeleteProvider, { input: { id: created.id } })).deleteIdentityProvider).toEqual({ __typename: 'DeleteIdentityProviderSuccess', deletedIdentityProviderId: created.id, linksRemoved: 0 });
    expect((await run(DeleteProvider, { input: { id: created.id } })).deleteIdentityProvider).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });

    const { events } = await run(ProviderEvents, { types: ['IDENTITY_PROVIDER_CREATED', 'IDENTITY_PROVIDER_UPDATED', 'IDENTITY_PROVIDER_DELETED'] });
    const mine = events.edges.map((e) => e.node).filter((e) => (e.data as { identityProvider: { id: string } }).identityProvider.id === created.id);
    expect(mine.map((e) => e.type)).toEqual(['IDENTITY_PROVIDER_CREATED', 'IDENTITY_PROVIDER_UPDATED', 'IDENTITY_PROVIDER_DELETED']);
    expect((mine[1].data as { changes: string[] }).changes.sort()).toEqual(['clientSecret', 'enabled', 'linkPolicy']);
    expect(JSON.stringify(mine)).not.toContain('s3cret');
  });

  it('fills in the presets, and refuses settings that do not fit the kind', async () => {
    const google = await createProvider({ name: 'Google', kind: 'GOOGLE', clientId: 'g-client', clientSecret: 'g-secret' });
    expect(google).toMatchObject({ issuer: 'https://accounts.google.com', scopes: ['openid', 'email', 'profile'] });
    const microsoft = await createProvider({ name: 'Microsoft', kind: 'MICROSOFT', tenant: 'contoso.onmicrosoft.com', clientId: 'm-client' });
    expect(microsoft.issuer).toBe('https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0');
    const gh = await createProvider({ name: 'GitHub.com', kind: 'GITHUB', clientId: 'gh-client' });
    expect(gh).toMatchObject({ authorizationEndpoint: 'https://github.com/login/oauth/authorize', emailsEndpoint: 'https://api.github.com/user/emails', scopes: ['read:user', 'user:email'] });

    const refused = async (input: CreateIdentityProviderInput) => (await run(CreateProvider, { input })).createIdentityProvider;
    expect(await refused({ name: 'No issuer', kind: 'OIDC', clientId: 'c' })).toMatchObject({ __typename: 'InvalidInputError', field: 'issuer' });
    expect(await refused({ name: 'Plain http', kind: 'OIDC', issuer: 'http://sso.example.com', clientId: 'c' })).toMatchObject({ __typename: 'InvalidInputError', field: 'issuer' });
    expect(await refused({ name: 'Half OAuth', kind: 'OAUTH2', authorizationEndpoint: 'https://o.example.com/auth', clientId: 'c' })).toMatchObject({ __typename: 'InvalidInputError', field: 'tokenEndpoint' });
    expect(await refused({ name: 'Bad mapping', kind: 'OAUTH2', authorizationEndpoint: 'https://o.example.com/a', tokenEndpoint: 'https://o.example.com/t', userinfoEndpoint: 'https://o.example.com/u', clientId: 'c', claimMapping: { mail: 'email' } })).toMatchObject({
      __typename: 'InvalidInputError',
      field: 'claimMapping',
    });
    expect(await refused({ name: 'Google again', kind: 'GOOGLE', issuer: 'https://evil.example.com', clientId: 'c' })).toMatchObject({ __typename: 'InvalidInputError', field: 'issuer' });
    for (const p of [google, microsoft, gh]) await run(DeleteProvider, { input: { id: p.id } });
  });

  it('is for API keys only', async () => {
    const user = await seed(gw.t).user({ password: PASSWORD }).signedIn();
    const asUser = await gw.t.exec(ListProviders, undefined, { token: user.session!.accessToken });
    expect(asUser.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'API_KEY_REQUIRED' });
    const anonymous = await gw.t.exec(CreateProvider, { input: { name: 'x', kind: 'GOOGLE', clientId: 'x' } }, { token: null });
    expect(anonymous.errors?.[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('an OIDC sign-in', () => {
  it('goes to the provider with PKCE, state and nonce, comes back through the callback, and is retrieved', async () => {
    const { intentId, authUrl, expiresAt } = await startIntent(oidcId, {}, null);
    const auth = new URL(authUrl);
    expect(auth.origin).toBe(op.url);
    expect(Object.fromEntries(auth.searchParams)).toMatchObject({
      client_id: 'portcullis',
      redirect_uri: gw.callbackUrl,
      response_type: 'code',
      code_challenge_method: 'S256',
      scope: 'openid email profile',
    });
    for (const p of ['state', 'nonce', 'code_challenge']) expect(auth.searchParams.get(p)?.length).toBeGreaterThanOrEqual(43);
    expect(Date.parse(expiresAt) - clock.now().getTime()).toBe(600_000);
    // Neither the state, nor the nonce, nor the verifier is kept in the clear.
    const row = await gw.t.app.database.client.idpIntent.findUniqueOrThrow({ where: { id: intentId } });
    expect(JSON.stringify(row)).not.toContain(auth.searchParams.get('state'));
    expect(JSON.stringify(row)).not.toContain(auth.searchParams.get('nonce'));

    const outcome = await completeCallback(await op.signIn(authUrl, 'ada'));
    expect(outcome.status).toBe(303);
    expect(outcome.location!.href.startsWith(`${SUCCESS_URL}?`)).toBe(true);
    expect(outcome.id).toBe(intentId);
    expect(outcome.token).toMatch(/^pci_/);
    const done = await gw.t.app.database.client.idpIntent.findUniqueOrThrow({ where: { id: intentId } });
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.stringify(done)).not.toContain(outcome.token);
    expect(done.resultEncrypted).not.toContain('ada@example.com');

    const { retrieveIdpIntent: r } = await run(RetrieveIntent, { input: { intentId, token: outcome.token! } });
    expect(r).toMatchObject({
      __typename: 'RetrieveIdpIntentSuccess',
      purpose: 'SIGN_IN',
      idpInformation: { identityProvider: { id: oidcId }, subject: 'ada-sub-1', email: 'ada@example.com', emailVerified: true, name: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace', username: 'ada' },
      user: null,
      idpLink: null,
      linkCandidate: null,
    });
    if (r.__typename !== 'RetrieveIdpIntentSuccess') throw new Error('unreachable');
    expect(r.idpInformation.rawInformation).toMatchObject({ sub: 'ada-sub-1', iss: op.issuer, aud: 'portcullis' });
    // Reading does not use it up.
    expect((await run(RetrieveIntent, { input: { intentId, token: outcome.token! } })).retrieveIdpIntent.__typename).toBe('RetrieveIdpIntentSuccess');
  });

  it('sends the browser to the failure URL when the user cancels at the provider, and the intent says why', async () => {
    const { intentId, authUrl } = await startIntent(oidcId);
    const outcome = await completeCallback(await op.signIn(authUrl, 'ada', { consent: false }));
    expect(outcome).toMatchObject({ status: 303, id: intentId, token: null, error: 'PROVIDER_ERROR' });
    expect(outcome.location!.href.startsWith(`${FAILURE_URL}?`)).toBe(true);
    const { retrieveIdpIntent: r } = await run(RetrieveIntent, { input: { intentId, token: 'pci_none' } });
    expect(r).toEqual({ __typename: 'IdpIntentFailedError', code: 'IDP_INTENT_FAILED', reason: 'PROVIDER_ERROR' });
  });

  it('signs in a linked user with loginWithIdpIntent, once, recording user.logged_in with the provider', async () => {
    const ada = await seed(gw.t).user({ email: 'ada.linked@example.com', password: PASSWORD });
    op.accounts.set('ada-linked', { sub: 'ada-linked-sub', email: 'ada.linked@example.com', email_verified: true });
    await run(AddLink, { input: { userId: ada.id, idpId: oidcId, subject: 'ada-linked-sub' } });
    const { intentId, token } = await oidcTrip('ada-linked');

    const retrieved = await run(RetrieveIntent, { input: { intentId, token } });
    expect(retrieved.retrieveIdpIntent).toMatchObject({ user: { id: ada.id } });

    const { loginWithIdpIntent: r } = await gw.t.run(LoginWithIntent, { input: { intentId, token, device: { name: 'Ada laptop' } } }, { token: null });
    expect(r).toMatchObject({ __typename: 'LoginWithIdpIntentSuccess', user: { id: ada.id, email: 'ada.linked@example.com' } });
    const again = await gw.t.run(LoginWithIntent, { input: { intentId, token } }, { token: null });
    expect(again.loginWithIdpIntent).toEqual({ __typename: 'IdpIntentAlreadyUsedError', code: 'IDP_INTENT_ALREADY_USED' });

    const { user } = await run(UserLinks, { id: ada.id });
    expect(user!.lastLoginAt).toBeTruthy();
    expect(user!.idpLinks).toMatchObject([{ subject: 'ada-linked-sub', email: 'ada.linked@example.com', emailVerified: true, accessToken: null }]);
    expect(user!.idpLinks[0].lastUsedAt).toBeTruthy();
    const loggedIn = user!.events.edges.map((e) => e.node).find((e) => e.type === 'USER_LOGGED_IN');
    expect(loggedIn?.data).toMatchObject({ method: 'idp', identityProviderId: oidcId, device: 'Ada laptop' });
  });

  it('asks a linked user with TOTP for the second factor, exactly as login does', async () => {
    const grace = await seed(gw.t).user({ email: 'grace@example.com', password: PASSWORD }).withTotp();
    op.accounts.set('grace', { sub: 'grace-sub', email: 'grace@example.com', email_verified: true });
    await run(AddLink, { input: { userId: grace.id, idpId: oidcId, subject: 'grace-sub' } });
    const { intentId, token } = await oidcTrip('grace');
    const { loginWithIdpIntent: r } = await gw.t.run(LoginWithIntent, { input: { intentId, token } }, { token: null });
    expect(r).toMatchObject({ __typename: 'MfaRequired', methods: ['TOTP'] });
    if (r.__typename !== 'MfaRequired') throw new Error('unreachable');
    const step = totpStep(clock.now()) + 1;
    clock.advance(30_000);
    const done = await gw.t.run(CompleteMfa, { input: { mfaToken: r.mfaToken, method: 'TOTP', code: totpCode(grace.totp!.secret, step) } }, { token: null });
    expect(done.completeMfaLogin).toEqual({ __typename: 'CompleteMfaLoginSuccess', user: { id: grace.id } });
    // The intent was spent by the first factor.
    expect((await gw.t.run(LoginWithIntent, { input: { intentId, token } }, { token: null })).loginWithIdpIntent.__typename).toBe('IdpIntentAlreadyUsedError');
  });

  it('answers IdpNotLinkedError for an unlinked account, naming the user with its verified email, and leaves the intent usable', async () => {
    const linus = await seed(gw.t).user({ email: 'linus@example.com', password: PASSWORD });
    op.accounts.set('linus', { sub: 'linus-sub', email: 'linus@example.com', email_verified: true });
    const { intentId, token } = await oidcTrip('linus');
    const { loginWithIdpIntent: r } = await gw.t.run(LoginWithIntent, { input: { intentId, token } }, { token: null });
    expect(r).toEqual({ __typename: 'IdpNotLinkedError', code: 'IDP_NOT_LINKED', linkCandidateUserId: linus.id });
    const retrieved = await run(RetrieveIntent, { input: { intentId, token } });
    expect(retrieved.retrieveIdpIntent).toMatchObject({ user: null, linkCandidate: { id: linus.id, email: 'linus@example.com' } });
    // Nothing was linked by the email.
    expect((await run(UserLinks, { id: linus.id })).user!.idpLinks).toEqual([]);
  });
});

describe('registering with an intent', () => {
  it('creates the user and links the account in one transaction, the provider-verified email marked verified', async () => {
    op.accounts.set('noor', { sub: 'noor-sub', email: 'Noor@Example.com', email_verified: true, given_name: 'Noor', family_name: 'Haddad', name: 'Noor Haddad' });
    const { intentId, token } = await oidcTrip('noor');
    const { createUser: r } = await run(CreateUser, { input: { idpIntent: { intentId, token } } });
    expect(r).toMatchObject({
      __typename: 'CreateUserSuccess',
      user: { email: 'Noor@Example.com', emailVerified: true, givenName: 'Noor', familyName: 'Haddad', displayName: 'Noor Haddad', idpLinks: [{ subject: 'noor-sub', emailVerified: true, identityProvider: { id: oidcId } }] },
    });
    if (r.__typename !== 'CreateUserSuccess') throw new Error('unreachable');
    const types = (await eventsOf(r.user.id)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['USER_CREATED', 'USER_EMAIL_VERIFIED', 'USER_IDP_LINKED']));
    // The intent is spent; a second registration with it creates nobody.
    const again = await run(CreateUser, { input: { email: 'other@example.com', idpIntent: { intentId, token } } });
    expect(again.createUser).toEqual({ __typename: 'IdpIntentAlreadyUsedError', code: 'IDP_INTENT_ALREADY_USED' });
    expect(await gw.t.app.database.client.user.count({ where: { emailNormalized: 'other@example.com' } })).toBe(0);

    // The new user signs in with the provider.
    const next = await oidcTrip('noor');
    const login = await gw.t.run(LoginWithIntent, { input: next }, { token: null });
    expect(login.loginWithIdpIntent).toMatchObject({ __typename: 'LoginWithIdpIntentSuccess', user: { id: r.user.id } });
  });

  it('keeps a given email unverified when it is not the one the provider vouches for, and creates nobody when the intent is bad', async () => {
    op.accounts.set('omar', { sub: 'omar-sub', email: 'omar@example.com', email_verified: true });
    const { intentId, token } = await oidcTrip('omar');
    const wrong = await run(CreateUser, { input: { email: 'omar.work@example.com', idpIntent: { intentId, token: `${token}x` } } });
    expect(wrong.createUser).toEqual({ __typename: 'IdpIntentInvalidError', code: 'IDP_INTENT_INVALID' });
    expect(await gw.t.app.database.client.user.count({ where: { emailNormalized: 'omar.work@example.com' } })).toBe(0);
    const { createUser: r } = await run(CreateUser, { input: { email: 'omar.work@example.com', idpIntent: { intentId, token } } });
    expect(r).toMatchObject({ __typename: 'CreateUserSuccess', user: { email: 'omar.work@example.com', emailVerified: false, idpLinks: [{ subject: 'omar-sub', email: 'omar@example.com' }] } });
  });
});

describe('linking with an intent', () => {
  it('needs a recent sign-in from a user acting on themselves, never changes their email, and links once', async () => {
    const mei = await seed(gw.t).user({ email: 'mei@example.com', password: PASSWORD }).signedIn();
    op.accounts.set('mei', { sub: 'mei-sub', email: 'mei.personal@example.com', email_verified: true });
    const { intentId, token } = await oidcTrip('mei');
    const asMei = { token: mei.session!.accessToken };
    // Past the re-authentication window, the user must prove a factor again.
    clock.advance(10 * 60_000);
    const stale = await gw.t.run(LinkIntent, { input: { userId: mei.id, intentId, token } }, asMei);
    expect(stale.linkIdpIntent).toMatchObject({ __typename: 'ReauthenticationRequiredError' });
    expect((await gw.t.run(Reauthenticate, { input: { password: PASSWORD } }, asMei)).reauthenticate.__typename).toBe('ReauthenticateSuccess');
    // Still within the intent's lifetime? Ten minutes passed: a new trip.
    const fresh = await oidcTrip('mei');
    const { linkIdpIntent: r } = await gw.t.run(LinkIntent, { input: { userId: mei.id, ...fresh } }, asMei);
    expect(r).toMatchObject({ __typename: 'LinkIdpIntentSuccess', user: { id: mei.id, email: 'mei@example.com' }, idpLink: { subject: 'mei-sub' } });
    const again = await gw.t.run(LinkIntent, { input: { userId: mei.id, ...fresh } }, asMei);
    expect(again.linkIdpIntent.__typename).toBe('IdpIntentAlreadyUsedError');
    expect((await eventsOf(mei.id)).find((e) => e.type === 'USER_IDP_LINKED')?.data).toMatchObject({ via: 'intent', link: { subject: 'mei-sub', identityProviderId: oidcId } });
    // The expired first intent is refused.
    expect((await run(LinkIntent, { input: { userId: mei.id, intentId, token } })).linkIdpIntent.__typename).toBe('IdpIntentExpiredError');
  });

  it('binds a LINK intent to its user: started by that user, linked only to them', async () => {
    const kim = await seed(gw.t).user({ email: 'kim@example.com', password: PASSWORD }).signedIn();
    const other = await seed(gw.t).user({ email: 'kim.other@example.com', password: PASSWORD });
    op.accounts.set('kim', { sub: 'kim-sub' });
    const forbidden = await gw.t.exec(StartIntent, { input: { idpId: oidcId, successUrl: SUCCESS_URL, failureUrl: FAILURE_URL, purpose: 'LINK', userId: other.id } }, { token: kim.session!.accessToken });
    expect(forbidden.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'NOT_SELF' });
    const anonymous = await gw.t.exec(StartIntent, { input: { idpId: oidcId, successUrl: SUCCESS_URL, failureUrl: FAILURE_URL, purpose: 'LINK', userId: kim.id } }, { token: null });
    expect(anonymous.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN' });

    const { intentId, authUrl } = await startIntent(oidcId, { purpose: 'LINK', userId: kim.id }, kim.session!.accessToken);
    const { token } = await completeCallback(await op.signIn(authUrl, 'kim'));
    expect((await run(LinkIntent, { input: { userId: other.id, intentId, token: token! } })).linkIdpIntent.__typename).toBe('IdpIntentInvalidError');
    expect((await run(CreateUser, { input: { email: 'kim.new@example.com', idpIntent: { intentId, token: token! } } })).createUser.__typename).toBe('InvalidInputError');
    expect((await gw.t.run(LoginWithIntent, { input: { intentId, token: token! } }, { token: null })).loginWithIdpIntent.__typename).toBe('InvalidInputError');
    const linked = await gw.t.run(LinkIntent, { input: { userId: kim.id, intentId, token: token! } }, { token: kim.session!.accessToken });
    expect(linked.linkIdpIntent).toMatchObject({ __typename: 'LinkIdpIntentSuccess', idpLink: { subject: 'kim-sub' } });
  });
});

describe('links added and removed by an admin', () => {
  it('adds a link by subject once, and removes it unless it is the last way to sign in', async () => {
    const sam = await seed(gw.t).user({ email: 'sam@example.com', password: PASSWORD });
    const added = await run(AddLink, { input: { userId: sam.id, idpId: oidcId, subject: 'sam-sub', username: 'sam' } });
    expect(added.addIdpLink).toMatchObject({ __typename: 'AddIdpLinkSuccess', idpLink: { subject: 'sam-sub', username: 'sam' } });
    const taken = await run(AddLink, { input: { userId: sam.id, idpId: oidcId, subject: 'sam-sub' } });
    expect(taken.addIdpLink).toMatchObject({ __typename: 'AlreadyExistsError', field: 'identity' });
    if (added.addIdpLink.__typename !== 'AddIdpLinkSuccess') throw new Error('unreachable');

    // A user who only signs in with the provider keeps that link.
    const only = await seed(gw.t).user({ email: 'only-idp@example.com' });
    const onlyLink = await run(AddLink, { input: { userId: only.id, idpId: oidcId, subject: 'only-sub' } });
    if (onlyLink.addIdpLink.__typename !== 'AddIdpLinkSuccess') throw new Error('unreachable');
    expect((await run(RemoveLink, { input: { id: onlyLink.addIdpLink.idpLink.id } })).removeIdpLink).toEqual({ __typename: 'LastSignInMethodError', code: 'LAST_SIGN_IN_METHOD' });

    // Sam has a password: the link may go.
    const removed = await run(RemoveLink, { input: { id: added.addIdpLink.idpLink.id } });
    expect(removed.removeIdpLink).toEqual({ __typename: 'RemoveIdpLinkSuccess', removedIdpLinkId: added.addIdpLink.idpLink.id, user: { id: sam.id, idpLinks: [] } });
    expect((await run(RemoveLink, { input: { id: added.addIdpLink.idpLink.id } })).removeIdpLink.__typename).toBe('NotFoundError');
    const types = (await eventsOf(sam.id)).filter((e) => e.type.startsWith('USER_IDP'));
    expect(types.map((e) => [e.type, (e.data as { via?: string; reason?: string }).via ?? (e.data as { reason?: string }).reason])).toEqual([
      ['USER_IDP_LINKED', 'admin'],
      ['USER_IDP_UNLINKED', 'removed'],
    ]);
  });

  it('refuses to delete a provider with links unless forced, which unlinks them', async () => {
    const p = await createProvider({ name: 'Short-lived', kind: 'OIDC', issuer: op.issuer, clientId: 'portcullis' });
    const zoe = await seed(gw.t).user({ email: 'zoe@example.com', password: PASSWORD });
    await run(AddLink, { input: { userId: zoe.id, idpId: p.id, subject: 'zoe-sub' } });
    expect((await run(DeleteProvider, { input: { id: p.id } })).deleteIdentityProvider).toEqual({ __typename: 'IdentityProviderInUseError', code: 'IDENTITY_PROVIDER_IN_USE', links: 1 });
    expect((await run(DeleteProvider, { input: { id: p.id, force: true } })).deleteIdentityProvider).toMatchObject({ linksRemoved: 1 });
    expect((await eventsOf(zoe.id)).at(-1)).toMatchObject({ type: 'USER_IDP_UNLINKED', data: { reason: 'provider_deleted' } });
  });
});

describe('the GitHub preset', () => {
  let githubId: string;
  beforeAll(async () => {
    github.accounts.set('octocat', {
      id: 583231,
      login: 'octocat',
      name: 'The Octocat',
      avatar_url: 'https://avatars.example.com/u/583231',
      emails: [
        { email: 'octocat@old.example.com', verified: true, primary: false },
        { email: 'octocat@example.com', verified: true, primary: true },
      ],
    });
    githubId = (
      await createProvider({
        name: 'GitHub',
        kind: 'GITHUB',
        clientId: github.clientId,
        clientSecret: github.clientSecret,
        authorizationEndpoint: `${github.url}/login/oauth/authorize`,
        tokenEndpoint: `${github.url}/login/oauth/access_token`,
        userinfoEndpoint: `${github.url}/user`,
        emailsEndpoint: `${github.url}/user/emails`,
      })
    ).id;
  });

  it('reads the numeric id as the subject and the verified primary email from /user/emails', async () => {
    const { intentId, authUrl } = await startIntent(githubId);
    const auth = new URL(authUrl);
    expect(auth.searchParams.get('nonce')).toBeNull();
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    const outcome = await completeCallback(await github.signIn(authUrl, 'octocat'));
    expect(outcome.id).toBe(intentId);
    expect(github.requests.slice(-3)).toEqual(['/login/oauth/access_token', '/user', '/user/emails']);
    const { retrieveIdpIntent: r } = await run(RetrieveIntent, { input: { intentId, token: outcome.token! } });
    expect(r).toMatchObject({
      idpInformation: { subject: '583231', username: 'octocat', name: 'The Octocat', email: 'octocat@example.com', emailVerified: true, picture: 'https://avatars.example.com/u/583231' },
    });
    const created = await run(CreateUser, { input: { idpIntent: { intentId, token: outcome.token! } } });
    expect(created.createUser).toMatchObject({ user: { email: 'octocat@example.com', emailVerified: true, idpLinks: [{ subject: '583231' }] } });
  });
});

describe('provider tokens', () => {
  it('are kept only when the provider says so, encrypted, and refreshed for IdpLink.accessToken', async () => {
    const keeper = await createProvider({ name: 'Token keeper', kind: 'OIDC', issuer: op.issuer, clientId: 'portcullis', clientSecret: 'oidc-client-secret-0123456789', storeTokens: true, scopes: ['openid', 'email', 'offline_access'] });
    op.accounts.set('tess', { sub: 'tess-sub', email: 'tess@example.com', email_verified: true });
    const { intentId, token } = await oidcTrip('tess', keeper.id);
    const { createUser: r } = await run(CreateUser, { input: { idpIntent: { intentId, token } } });
    if (r.__typename !== 'CreateUserSuccess') throw new Error(JSON.stringify(r));
    const link = await gw.t.app.database.client.idpLink.findFirstOrThrow({ where: { userId: r.user.id } });
    expect(link.tokensEncrypted).toBeTruthy();
    const stored = JSON.parse(decryptSecret(Buffer.from(ENCRYPTION_KEY, 'base64'), link.tokensEncrypted!, link.id)) as { accessToken: string; refreshToken: string };
    expect(link.tokensEncrypted).not.toContain(stored.accessToken);
    expect(stored.refreshToken).toBeTruthy();

    const first = (await run(UserLinks, { id: r.user.id })).user!.idpLinks[0].accessToken;
    expect(first).toBe(stored.accessToken);
    // The provider's token is for API keys only.
    const tess = await gw.t.app.services.sessions.createSession(r.user.id, {}, { actor: { type: 'system' } });
    const asTess = await gw.t.exec(UserLinks, { id: r.user.id }, { token: tess.accessToken });
    expect(asTess.errors?.length).toBeGreaterThan(0);

    // An hour later it has expired: reading it refreshes it at the provider.
    clock.advance(3600_000);
    const refreshed = (await run(UserLinks, { id: r.user.id })).user!.idpLinks[0].accessToken;
    expect(refreshed).toBeTruthy();
    expect(refreshed).not.toBe(first);
    const after = await gw.t.app.database.client.idpLink.findUniqueOrThrow({ where: { id: link.id } });
    expect(after.tokensEncrypted).not.toBe(link.tokensEncrypted);

    // The default provider keeps none.
    const plain = await gw.t.app.database.client.idpLink.findMany({ where: { idpId: oidcId } });
    expect(plain.every((l) => l.tokensEncrypted === null)).toBe(true);
  });
});

describe('events', () => {
  it('are in the catalog with their payloads, and carry no secret', async () => {
    const { events } = await run(ProviderEvents, { types: ['USER_IDP_LINKED', 'USER_IDP_UNLINKED', 'USER_LOGGED_IN', 'IDENTITY_PROVIDER_CREATED'] });
    const all = JSON.stringify(events);
    expect(all).not.toMatch(/pci_|oidc-client-secret|gho_/);
    expect(events.edges.length).toBeGreaterThan(5);
  });
});
