/**
 * Threats to sign-in with external identity providers, one test each:
 *
 * - a replayed intent (ZITADEL CVE-2025-46815: intents that worked more than
 *   once), and a replayed callback;
 * - an expired intent;
 * - the token of another intent;
 * - a callback whose state names no intent, or another intent's (code injection);
 * - an ID token with a wrong nonce, audience, issuer or signature (ZITADEL's
 *   JWT-IdP advisories: hand-rolled checks that missed these);
 * - a provider saying email_verified: false for an existing user's email
 *   (account takeover by unverified email, even under AUTO_LINK_VERIFIED_EMAIL);
 * - a success URL off the allowlist (an open redirect hands out the intent token);
 * - a provider that is down, or too slow (a typed failure, nothing half-written);
 * - a GitHub account whose only email is unverified;
 * - and, beyond the list, two removals racing for a user's last two links.
 *
 * The providers are real and local: oidc-provider, re-signing its ID tokens
 * when a test asks, and a GitHub-shaped OAuth 2.0 server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { graphql } from './gql/index.js';
import type { CreateIdentityProviderInput } from './gql/graphql.js';
import { completeCallback, FAILURE_URL, freePort, startGitHubStub, startIdpGateway, SUCCESS_URL, type GitHubStub, type IdpGateway } from './helpers/identity-providers.js';
import { startOidcProvider, type TestOidcProvider } from './helpers/oidc-provider.js';
import { seed } from './helpers/seed.js';

const CreateProvider = graphql(`
  mutation IdpSecCreateProvider($input: CreateIdentityProviderInput!) {
    createIdentityProvider(input: $input) { __typename ... on CreateIdentityProviderSuccess { identityProvider { id } } ... on Error { code message } }
  }
`);
const StartIntent = graphql(`
  mutation IdpSecStartIntent($input: StartIdpIntentInput!) {
    startIdpIntent(input: $input) {
      __typename
      ... on StartIdpIntentSuccess { intentId authUrl }
      ... on InvalidInputError { field }
      ... on Error { code }
    }
  }
`);
const RetrieveIntent = graphql(`
  mutation IdpSecRetrieveIntent($input: IdpIntentInput!) {
    retrieveIdpIntent(input: $input) {
      __typename
      ... on RetrieveIdpIntentSuccess { idpInformation { subject email emailVerified } user { id } linkCandidate { id } }
      ... on IdpIntentFailedError { reason }
      ... on Error { code }
    }
  }
`);
const LoginWithIntent = graphql(`
  mutation IdpSecLogin($input: LoginWithIdpIntentInput!) {
    loginWithIdpIntent(input: $input) {
      __typename
      ... on LoginWithIdpIntentSuccess { user { id } }
      ... on IdpNotLinkedError { linkCandidateUserId }
      ... on Error { code }
    }
  }
`);
const CreateUser = graphql(`
  mutation IdpSecCreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ... on CreateUserSuccess { user { id email emailVerified idpLinks { subject } } }
      ... on AlreadyExistsError { field }
      ... on Error { code }
    }
  }
`);
const AddLink = graphql(`
  mutation IdpSecAddLink($input: AddIdpLinkInput!) {
    addIdpLink(input: $input) { __typename ... on AddIdpLinkSuccess { idpLink { id } } ... on Error { code } }
  }
`);
const RemoveLink = graphql(`
  mutation IdpSecRemoveLink($input: RemoveIdpLinkInput!) {
    removeIdpLink(input: $input) { __typename ... on Error { code } }
  }
`);
const UserState = graphql(`
  query IdpSecUser($id: ID!) {
    user(id: $id) { email emailVerified lastLoginAt idpLinks { id } sessions { id } }
  }
`);
const FailedLogins = graphql(`
  query IdpSecFailed {
    events(first: 100, types: [USER_IDP_LOGIN_FAILED]) { edges { node { userId data } } }
  }
`);

const PASSWORD = 'correct horse battery staple';
const CLIENT_SECRET = 'oidc-client-secret-0123456789';
const clock = manualClock(new Date());

let gw: IdpGateway;
let op: TestOidcProvider;
let github: GitHubStub;
let oidcId: string;
let autoLinkId: string;
let githubId: string;

async function createProvider(input: CreateIdentityProviderInput) {
  const { createIdentityProvider: r } = await gw.t.run(CreateProvider, { input });
  if (r.__typename !== 'CreateIdentityProviderSuccess') throw new Error(JSON.stringify(r));
  return r.identityProvider.id;
}

async function startIntent(idpId = oidcId) {
  const { startIdpIntent: r } = await gw.t.run(StartIntent, { input: { idpId, successUrl: SUCCESS_URL, failureUrl: FAILURE_URL } }, { token: null });
  if (r.__typename !== 'StartIdpIntentSuccess') throw new Error(JSON.stringify(r));
  return r;
}

/** A whole trip at the OIDC provider as `login`: the callback's outcome and the intent it was for. */
async function oidcTrip(login: string, idpId = oidcId) {
  const { intentId, authUrl } = await startIntent(idpId);
  return { intentId, ...(await completeCallback(await op.signIn(authUrl, login))) };
}

const login = (intentId: string, token: string) => gw.t.run(LoginWithIntent, { input: { intentId, token } }, { token: null });
const retrieve = (intentId: string, token: string) => gw.t.run(RetrieveIntent, { input: { intentId, token } });
const intentRow = (id: string) => gw.t.app.database.client.idpIntent.findUniqueOrThrow({ where: { id } });
const linkCount = () => gw.t.app.database.client.idpLink.count();

beforeAll(async () => {
  github = await startGitHubStub();
  // A short provider timeout: the slow-provider test waits it out (no sleep of its own).
  gw = await startIdpGateway({ clock, env: { PORTCULLIS_IDP_TIMEOUT_MS: '2000' } });
  op = await startOidcProvider({
    clients: [{ client_id: 'portcullis', client_secret: CLIENT_SECRET, redirect_uris: [gw.callbackUrl], grant_types: ['authorization_code', 'refresh_token'] }],
  });
  op.accounts.set('ada', { sub: 'ada-sub', email: 'ada@example.com', email_verified: true });
  oidcId = await createProvider({ name: 'OIDC', kind: 'OIDC', issuer: op.issuer, clientId: 'portcullis', clientSecret: CLIENT_SECRET });
  autoLinkId = await createProvider({ name: 'OIDC auto-link', kind: 'OIDC', issuer: op.issuer, clientId: 'portcullis', clientSecret: CLIENT_SECRET, linkPolicy: 'AUTO_LINK_VERIFIED_EMAIL' });
  githubId = await createProvider({
    name: 'GitHub',
    kind: 'GITHUB',
    clientId: github.clientId,
    clientSecret: github.clientSecret,
    linkPolicy: 'AUTO_LINK_VERIFIED_EMAIL',
    authorizationEndpoint: `${github.url}/login/oauth/authorize`,
    tokenEndpoint: `${github.url}/login/oauth/access_token`,
    userinfoEndpoint: `${github.url}/user`,
    emailsEndpoint: `${github.url}/user/emails`,
  });
  const ada = await seed(gw.t).user({ email: 'ada.local@example.com', password: PASSWORD });
  await gw.t.run(AddLink, { input: { userId: ada.id, idpId: oidcId, subject: 'ada-sub' } });
}, 60_000);

afterAll(async () => {
  await gw?.t.close();
  await op?.close();
  await github?.close();
});

describe('identity-provider intents under attack', () => {
  it('a replayed intent signs in once: a second use, a concurrent one and a replayed callback get nothing', async () => {
    const first = await oidcTrip('ada');
    expect((await login(first.intentId, first.token!)).loginWithIdpIntent.__typename).toBe('LoginWithIdpIntentSuccess');
    expect((await login(first.intentId, first.token!)).loginWithIdpIntent.__typename).toBe('IdpIntentAlreadyUsedError');
    expect((await retrieve(first.intentId, first.token!)).retrieveIdpIntent.__typename).toBe('IdpIntentAlreadyUsedError');

    // Two uses racing: exactly one wins.
    const second = await oidcTrip('ada');
    const raced = await Promise.all([login(second.intentId, second.token!), login(second.intentId, second.token!), login(second.intentId, second.token!)]);
    expect(raced.map((r) => r.loginWithIdpIntent.__typename).sort()).toEqual(['IdpIntentAlreadyUsedError', 'IdpIntentAlreadyUsedError', 'LoginWithIdpIntentSuccess']);

    // The provider's redirect replayed: the callback runs once per intent, and the replay gets no token.
    const { intentId, authUrl } = await startIntent();
    const callback = await op.signIn(authUrl, 'ada');
    const once = await completeCallback(callback);
    const replay = await completeCallback(callback);
    expect(once.token).toBeTruthy();
    expect(replay).toMatchObject({ status: 303, id: intentId, token: null, error: 'INTENT_ALREADY_USED' });
    expect(replay.location!.href.startsWith(FAILURE_URL)).toBe(true);
    expect((await login(intentId, once.token!)).loginWithIdpIntent.__typename).toBe('LoginWithIdpIntentSuccess');
  });

  it('an expired intent is refused, at the callback and after it', async () => {
    const done = await oidcTrip('ada');
    const { authUrl, intentId } = await startIntent();
    const callback = await op.signIn(authUrl, 'ada');
    clock.advance(600_001);
    expect((await retrieve(done.intentId, done.token!)).retrieveIdpIntent.__typename).toBe('IdpIntentExpiredError');
    expect((await login(done.intentId, done.token!)).loginWithIdpIntent.__typename).toBe('IdpIntentExpiredError');
    expect((await gw.t.run(CreateUser, { input: { email: 'late@example.com', idpIntent: { intentId: done.intentId, token: done.token! } } })).createUser.__typename).toBe('IdpIntentExpiredError');
    const late = await completeCallback(callback);
    expect(late).toMatchObject({ status: 303, id: intentId, token: null, error: 'INTENT_EXPIRED' });
    expect((await intentRow(intentId)).status).toBe('STARTED');
    expect(await gw.t.app.database.client.user.count({ where: { emailNormalized: 'late@example.com' } })).toBe(0);
  });

  it("another intent's token opens nothing, and spends neither intent", async () => {
    const a = await oidcTrip('ada');
    const b = await oidcTrip('ada');
    expect((await retrieve(a.intentId, b.token!)).retrieveIdpIntent).toEqual({ __typename: 'IdpIntentInvalidError', code: 'IDP_INTENT_INVALID' });
    expect((await login(a.intentId, b.token!)).loginWithIdpIntent.__typename).toBe('IdpIntentInvalidError');
    expect((await login(a.intentId, 'pci_forged')).loginWithIdpIntent.__typename).toBe('IdpIntentInvalidError');
    expect((await login('idi_00000000000000000000000000', a.token!)).loginWithIdpIntent.__typename).toBe('IdpIntentInvalidError');
    expect((await intentRow(a.intentId)).status).toBe('SUCCEEDED');
    expect((await intentRow(b.intentId)).status).toBe('SUCCEEDED');
    expect((await login(a.intentId, a.token!)).loginWithIdpIntent.__typename).toBe('LoginWithIdpIntentSuccess');
  });

  it('a callback whose state names no intent gets a plain 400; the code of one intent under the state of another fails its PKCE check', async () => {
    const { intentId, authUrl } = await startIntent();
    const callback = await op.signIn(authUrl, 'ada');
    const forged = new URL(callback);
    forged.searchParams.set('state', `${callback.searchParams.get('state')}x`);
    const unknown = await completeCallback(forged);
    expect(unknown.status).toBe(400);
    expect(unknown.location).toBeNull();
    const noState = new URL(callback);
    noState.searchParams.delete('state');
    expect((await completeCallback(noState)).status).toBe(400);
    expect((await intentRow(intentId)).status).toBe('STARTED');

    // An attacker's code (from their own trip) injected under the victim's state.
    const victim = await startIntent();
    const victimCallback = await op.signIn(victim.authUrl, 'ada');
    const injected = new URL(victimCallback);
    injected.searchParams.set('code', callback.searchParams.get('code')!);
    const outcome = await completeCallback(injected);
    expect(outcome).toMatchObject({ status: 303, id: victim.intentId, token: null, error: 'EXCHANGE_FAILED' });
    expect(await intentRow(victim.intentId)).toMatchObject({ status: 'FAILED', failureReason: 'EXCHANGE_FAILED', tokenHash: null });
  });

  for (const [name, tamper, expected] of [
    ['a wrong nonce', { claims: (c: Record<string, unknown>) => ({ ...c, nonce: 'attacker-nonce' }) }, 'nonce'],
    ['a wrong audience', { claims: (c: Record<string, unknown>) => ({ ...c, aud: 'another-client' }) }, 'aud'],
    ['a wrong issuer', { claims: (c: Record<string, unknown>) => ({ ...c, iss: 'https://evil.example.com' }) }, 'iss'],
    ['a signature by a key the provider does not publish', { foreignKey: true }, 'signature'],
  ] as const) {
    it(`an ID token with ${name} is refused: the intent fails, nothing is linked or signed in`, async () => {
      const links = await linkCount();
      const sessions = await gw.t.app.database.client.session.count();
      op.tamper = tamper;
      let outcome;
      try {
        outcome = await oidcTrip('ada');
      } finally {
        op.tamper = null;
      }
      expect(outcome, expected).toMatchObject({ status: 303, token: null, error: 'ID_TOKEN_INVALID' });
      expect(outcome.location!.href.startsWith(FAILURE_URL)).toBe(true);
      expect(await intentRow(outcome.intentId)).toMatchObject({ status: 'FAILED', failureReason: 'ID_TOKEN_INVALID', resultEncrypted: null });
      expect((await retrieve(outcome.intentId, 'pci_anything')).retrieveIdpIntent).toEqual({ __typename: 'IdpIntentFailedError', code: 'IDP_INTENT_FAILED', reason: 'ID_TOKEN_INVALID' });
      expect(await linkCount()).toBe(links);
      expect(await gw.t.app.database.client.session.count()).toBe(sessions);
      const failed = (await gw.t.run(FailedLogins)).events.edges.map((e) => e.node.data as { intentId: string; reason: string });
      expect(failed).toContainEqual(expect.objectContaining({ intentId: outcome.intentId, reason: 'ID_TOKEN_INVALID' }));
    });
  }

  it("a provider saying email_verified: false for an existing user's email neither links nor signs in as that user, even under AUTO_LINK_VERIFIED_EMAIL", async () => {
    const victim = await seed(gw.t).user({ email: 'victim@example.com', password: PASSWORD }).verified();
    op.accounts.set('mallory', { sub: 'mallory-sub', email: 'victim@example.com', email_verified: false });
    const links = await linkCount();
    for (const idpId of [oidcId, autoLinkId]) {
      const trip = await oidcTrip('mallory', idpId);
      const retrieved = await retrieve(trip.intentId, trip.token!);
      expect(retrieved.retrieveIdpIntent).toMatchObject({ idpInformation: { email: 'victim@example.com', emailVerified: false }, user: null, linkCandidate: null });
      expect((await login(trip.intentId, trip.token!)).loginWithIdpIntent).toEqual({ __typename: 'IdpNotLinkedError', code: 'IDP_NOT_LINKED', linkCandidateUserId: null });
      // Registering with it cannot take the address either.
      expect((await gw.t.run(CreateUser, { input: { idpIntent: { intentId: trip.intentId, token: trip.token! } } })).createUser).toMatchObject({ __typename: 'AlreadyExistsError', field: 'email' });
    }
    expect(await linkCount()).toBe(links);
    const { user } = await gw.t.run(UserState, { id: victim.id });
    expect(user).toMatchObject({ email: 'victim@example.com', emailVerified: true, lastLoginAt: null, idpLinks: [], sessions: [] });

    // The controls: a verified email does link under AUTO_LINK_VERIFIED_EMAIL, but only to a user whose own email is verified.
    op.accounts.set('victim-real', { sub: 'victim-real-sub', email: 'victim@example.com', email_verified: true });
    const real = await oidcTrip('victim-real', autoLinkId);
    expect((await login(real.intentId, real.token!)).loginWithIdpIntent).toEqual({ __typename: 'LoginWithIdpIntentSuccess', user: { id: victim.id } });
    const unverified = await seed(gw.t).user({ email: 'unverified@example.com', password: PASSWORD });
    op.accounts.set('pre-hijack', { sub: 'pre-hijack-sub', email: 'unverified@example.com', email_verified: true });
    const pre = await oidcTrip('pre-hijack', autoLinkId);
    expect((await login(pre.intentId, pre.token!)).loginWithIdpIntent).toEqual({ __typename: 'IdpNotLinkedError', code: 'IDP_NOT_LINKED', linkCandidateUserId: unverified.id });
  });

  it('a success or failure URL off the allowlist is refused before anything is written', async () => {
    const intents = await gw.t.app.database.client.idpIntent.count();
    for (const [field, url] of [
      ['successUrl', 'https://evil.example.com/steal'],
      ['successUrl', 'http://app.example.com/auth/done'],
      ['successUrl', 'https://app.example.com:8443/auth/done'],
      ['successUrl', 'https://app.example.com.evil.example.com/auth/done'],
      ['successUrl', 'https://app.example.com@evil.example.com/auth/done'],
      ['successUrl', 'javascript:alert(1)'],
      ['successUrl', '/auth/done'],
      ['failureUrl', 'https://evil.example.com/failed'],
    ] as const) {
      const input = { idpId: oidcId, successUrl: SUCCESS_URL, failureUrl: FAILURE_URL, [field]: url };
      const { startIdpIntent: r } = await gw.t.run(StartIntent, { input }, { token: null });
      expect(r, url).toMatchObject({ __typename: 'InvalidInputError', field });
    }
    expect(await gw.t.app.database.client.idpIntent.count()).toBe(intents);
  });

  it('a provider that is down or too slow gives a typed failure, and nothing is half-written', async () => {
    // Down: nothing listens at its issuer, so discovery fails and no intent is written.
    const port = await freePort();
    const down = await createProvider({ name: 'Down', kind: 'OIDC', issuer: `http://127.0.0.1:${port}`, clientId: 'portcullis' });
    const intents = await gw.t.app.database.client.idpIntent.count();
    const { startIdpIntent: r } = await gw.t.run(StartIntent, { input: { idpId: down, successUrl: SUCCESS_URL, failureUrl: FAILURE_URL } }, { token: null });
    expect(r).toEqual({ __typename: 'IdpUnavailableError', code: 'IDP_UNAVAILABLE' });
    expect(await gw.t.app.database.client.idpIntent.count()).toBe(intents);

    // Slow: the token endpoint never answers; the gateway gives up after PORTCULLIS_IDP_TIMEOUT_MS.
    const links = await linkCount();
    const sessions = await gw.t.app.database.client.session.count();
    const users = await gw.t.app.database.client.user.count();
    const { intentId, authUrl } = await startIntent();
    const callback = await op.signIn(authUrl, 'ada');
    op.hold = true;
    let outcome;
    try {
      outcome = await completeCallback(callback);
    } finally {
      op.hold = false;
    }
    expect(outcome).toMatchObject({ status: 303, id: intentId, token: null, error: 'PROVIDER_UNAVAILABLE' });
    expect(await intentRow(intentId)).toMatchObject({ status: 'FAILED', failureReason: 'PROVIDER_UNAVAILABLE', tokenHash: null, resultEncrypted: null, subject: null });
    expect(await linkCount()).toBe(links);
    expect(await gw.t.app.database.client.session.count()).toBe(sessions);
    expect(await gw.t.app.database.client.user.count()).toBe(users);
    // The provider answers again: a new trip works.
    const again = await oidcTrip('ada');
    expect(again.token).toBeTruthy();
  });

  it('a GitHub account whose only email is unverified brings no email: no candidate, no link, no verified address', async () => {
    const owner = await seed(gw.t).user({ email: 'owner@example.com', password: PASSWORD }).verified();
    github.accounts.set('squatter', { id: 9001, login: 'squatter', emails: [{ email: 'owner@example.com', verified: false, primary: true }] });
    const { intentId, authUrl } = await startIntent(githubId);
    const { token } = await completeCallback(await github.signIn(authUrl, 'squatter'));
    const retrieved = await retrieve(intentId, token!);
    expect(retrieved.retrieveIdpIntent).toMatchObject({ idpInformation: { subject: '9001', email: null, emailVerified: false }, user: null, linkCandidate: null });
    expect((await login(intentId, token!)).loginWithIdpIntent).toEqual({ __typename: 'IdpNotLinkedError', code: 'IDP_NOT_LINKED', linkCandidateUserId: null });
    const created = await gw.t.run(CreateUser, { input: { idpIntent: { intentId, token: token! } } });
    expect(created.createUser).toMatchObject({ __typename: 'CreateUserSuccess', user: { email: null, emailVerified: false, idpLinks: [{ subject: '9001' }] } });
    const { user } = await gw.t.run(UserState, { id: owner.id });
    expect(user).toMatchObject({ email: 'owner@example.com', idpLinks: [], sessions: [] });
  });

  it('two removals racing for the last two links of a user without a password leave one link', async () => {
    const only = await seed(gw.t).user({ email: 'links-only@example.com' });
    const ids: string[] = [];
    for (const subject of ['race-1', 'race-2']) {
      const { addIdpLink: r } = await gw.t.run(AddLink, { input: { userId: only.id, idpId: oidcId, subject } });
      if (r.__typename !== 'AddIdpLinkSuccess') throw new Error(JSON.stringify(r));
      ids.push(r.idpLink.id);
    }
    const results = await Promise.all(ids.map((id) => gw.t.run(RemoveLink, { input: { id } })));
    expect(results.map((r) => r.removeIdpLink.__typename).sort()).toEqual(['LastSignInMethodError', 'RemoveIdpLinkSuccess']);
    expect((await gw.t.run(UserState, { id: only.id })).user!.idpLinks).toHaveLength(1);
  });
});
