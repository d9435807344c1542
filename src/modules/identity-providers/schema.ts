import { builder } from '../../graphql/builder.js';
import { errorTypes as E } from '../../graphql/errors.js';
import { adminOrSelf, affectedUser, publicOperation, type SchemaTypes } from '../../graphql/helpers.js';
import { DeviceInput, MfaRequired, signInType } from '../sign-in/schema.js';
import type { IdpProfile } from './providers.js';
import type { RetrievedIntent } from './service.js';
import { idpIntentFields as IdpIntentFields, IdpIntentInput } from './intent-input.schema.js';

const IdentityProviderKindEnum = builder.enumType('IdentityProviderKind', {
  values: {
    OIDC: { description: 'Any OpenID Connect provider, discovered from its issuer (Okta, Auth0, Keycloak, ZITADEL…).' },
    OAUTH2: { description: 'An OAuth 2.0 provider without OpenID Connect: its endpoints and claimMapping given explicitly.' },
    GOOGLE: { description: 'Google (OIDC, issuer https://accounts.google.com).' },
    MICROSOFT: { description: 'Microsoft Entra ID (OIDC, issuer https://login.microsoftonline.com/<tenant>/v2.0). Its emails count as unverified unless trustEmail.' },
    GITHUB: { description: 'GitHub (OAuth 2.0): the subject is the numeric account id; the email is the verified primary one from /user/emails.' },
  } as const,
});

const IdpLinkPolicyEnum = builder.enumType('IdpLinkPolicy', {
  description: "What happens when an account of the provider is linked to no user but its verified email is a user's.",
  values: {
    NONE: { description: 'Nothing: no link candidate is reported.' },
    PROMPT: { description: 'The intent reports the user as linkCandidate; linking needs that user to sign in again (linkIdpIntent). The default.' },
    AUTO_LINK_VERIFIED_EMAIL: {
      description:
        "loginWithIdpIntent links and signs in at once, but only when the provider vouches for the email (email_verified, or trustEmail) and the user's own email is verified too. Use only with providers whose emails you trust.",
    },
  } as const,
});

const IdpIntentPurposeEnum = builder.enumType('IdpIntentPurpose', {
  values: {
    SIGN_IN: { description: 'Sign in (loginWithIdpIntent), register (createUser with idpIntent), or link after a prompt (linkIdpIntent).' },
    LINK: { description: 'Link the account to the user named by userId (linkIdpIntent), and to no one else.' },
  } as const,
});

const IdentityProviderRef = builder.prismaNode('IdentityProvider', {
  description: 'An external identity provider users sign in with. Its client secret is never returned.',
  id: { field: 'id' },
  // A node that no longer exists resolves to null, not an error.
  nullable: true,
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.field({ type: IdentityProviderKindEnum, select: { kind: true }, resolve: (p) => p.kind as never }),
    issuer: t.exposeString('issuer', { nullable: true, description: 'OIDC kinds: the issuer the endpoints are discovered from and ID tokens are checked against.' }),
    authorizationEndpoint: t.exposeString('authorizationEndpoint', { nullable: true, description: 'OAuth 2.0 kinds (OIDC kinds discover it).' }),
    tokenEndpoint: t.exposeString('tokenEndpoint', { nullable: true }),
    userinfoEndpoint: t.exposeString('userinfoEndpoint', { nullable: true }),
    emailsEndpoint: t.exposeString('emailsEndpoint', { nullable: true, description: "GITHUB: where the account's emails are listed." }),
    clientId: t.exposeString('clientId'),
    hasClientSecret: t.boolean({ select: { clientSecretEncrypted: true }, description: 'A client secret is set (it is never returned).', resolve: (p) => p.clientSecretEncrypted !== null }),
    scopes: t.stringList({ select: { scopes: true }, resolve: (p) => p.scopes.split(' ').filter(Boolean) }),
    claimMapping: t.expose('claimMapping', { type: 'JSON', nullable: true, description: 'Which claim holds each profile field, where it differs from the kind\'s defaults.' }),
    trustEmail: t.exposeBoolean('trustEmail', { description: "The provider's emails count as verified even without email_verified." }),
    linkPolicy: t.field({ type: IdpLinkPolicyEnum, select: { linkPolicy: true }, resolve: (p) => p.linkPolicy as never }),
    storeTokens: t.exposeBoolean('storeTokens', { description: "The provider's tokens are kept (encrypted) with each link: IdpLink.accessToken." }),
    enabled: t.exposeBoolean('enabled', { description: 'A disabled provider starts no intent and signs nobody in.' }),
    callbackUrl: t.string({
      description: 'The redirect URI to register at the provider: PORTCULLIS_PUBLIC_URL + /idps/callback.',
      resolve: (_p, _args, ctx) => ctx.services.identityProviders.callbackUrl,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const IdpLinkRef = builder.prismaNode('IdpLink', {
  description: "A user's account at an identity provider. One account links to one user: (provider, subject) is unique.",
  id: { field: 'id' },
  // A node that no longer exists resolves to null, not an error.
  nullable: true,
  fields: (t) => ({
    identityProvider: t.relation('identityProvider'),
    user: t.relation('user'),
    subject: t.exposeString('subject', { description: "The provider's id of the account (OIDC sub, GitHub's numeric id)." }),
    username: t.exposeString('username', { nullable: true }),
    email: t.exposeString('email', { nullable: true, description: 'The email the provider last reported. The user\'s own email is never changed by a link.' }),
    emailVerified: t.exposeBoolean('emailVerified', { description: 'The provider vouched for that email.' }),
    profile: t.expose('profile', { type: 'JSON', nullable: true, description: 'The claims the provider last returned.' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'The last sign-in with it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    accessToken: t.string({
      nullable: true,
      authScopes: { admin: 'identity_providers:manage' },
      select: { idpId: true, tokensEncrypted: true },
      description:
        "The provider's access token, to call its API for the user (providers with storeTokens; API keys only). Refreshed first when it expires within 30 s. Null when none is kept, or it expired and could not be refreshed.",
      resolve: (link, _args, ctx) => ctx.services.identityProviders.linkAccessToken(link),
    }),
  }),
});

builder.prismaObjectField('User', 'idpLinks', (t) =>
  t.relation('idpLinks', { description: "The user's accounts at identity providers, oldest first.", query: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] } }),
);

const IdpInformation = builder.objectRef<IdpProfile & { identityProviderId: string }>('IdpInformation').implement({
  description: 'What the identity provider said of the account.',
  fields: (t) => ({
    identityProvider: t.prismaField({
      type: 'IdentityProvider',
      resolve: (query, info, _args, ctx) => ctx.db.identityProvider.findUniqueOrThrow({ ...query, where: { id: info.identityProviderId } }),
    }),
    subject: t.exposeString('subject', { description: "The provider's id of the account: what a link is keyed by." }),
    username: t.exposeString('username', { nullable: true }),
    email: t.exposeString('email', { nullable: true, description: 'GITHUB: the verified primary email, or null.' }),
    emailVerified: t.exposeBoolean('emailVerified', { description: 'The provider vouches for the email (email_verified, or a trusted provider).' }),
    name: t.exposeString('name', { nullable: true }),
    givenName: t.exposeString('givenName', { nullable: true }),
    familyName: t.exposeString('familyName', { nullable: true }),
    picture: t.exposeString('picture', { nullable: true }),
    rawInformation: t.field({ type: 'JSON', description: 'The claims as the provider returned them (ID token and userinfo merged).', resolve: (i) => i.raw }),
  }),
});

const maybeUser = <Parent extends RetrievedIntent>(t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, Parent>, key: 'userId' | 'linkCandidateUserId', description: string) =>
  t.prismaField({
    type: 'User',
    nullable: true,
    description,
    resolve: (query, parent, _args, ctx) => (parent[key] ? ctx.db.user.findUnique({ ...query, where: { id: parent[key]! } }) : null),
  });

const RetrieveIdpIntentSuccess = builder.objectRef<RetrievedIntent>('RetrieveIdpIntentSuccess').implement({
  description: 'What came back from the provider. Reading does not use the intent up.',
  fields: (t) => ({
    intentId: t.exposeID('intentId'),
    purpose: t.field({ type: IdpIntentPurposeEnum, resolve: (r) => r.purpose }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'Use it (sign in, register or link) before then.' }),
    idpInformation: t.field({ type: IdpInformation, resolve: (r) => ({ ...r.profile, identityProviderId: r.identityProviderId }) }),
    user: maybeUser(t, 'userId', 'The user the account is linked to: sign them in with loginWithIdpIntent. Null when it is linked to none.'),
    idpLink: t.prismaField({
      type: 'IdpLink',
      nullable: true,
      description: 'The link, when there is one.',
      resolve: (query, r, _args, ctx) => (r.linkId ? ctx.db.idpLink.findUnique({ ...query, where: { id: r.linkId } }) : null),
    }),
    linkCandidate: maybeUser(
      t,
      'linkCandidateUserId',
      "When the account is linked to no user: the user whose email is the provider's verified email (unless the provider's linkPolicy is NONE). Link only after that user signs in again (linkIdpIntent).",
    ),
  }),
});

const providerSettings = (t: PothosSchemaTypes.InputFieldBuilder<SchemaTypes, 'InputObject'>) => ({
  clientId: t.string({ description: 'The client id the provider issued to this gateway.' }),
  clientSecret: t.string({ description: 'The client secret the provider issued; stored encrypted and never returned.' }),
  issuer: t.string({ description: 'OIDC: the issuer (the URL its /.well-known/openid-configuration is under). OAUTH2: optional, the namespace of its accounts.' }),
  tenant: t.string({ description: 'MICROSOFT: the Entra ID tenant id or domain (default common).' }),
  authorizationEndpoint: t.string({ description: 'OAUTH2 (required) and GITHUB (default github.com): where the browser is sent.' }),
  tokenEndpoint: t.string({ description: 'OAUTH2 (required) and GITHUB: where the code is exchanged.' }),
  userinfoEndpoint: t.string({ description: 'OAUTH2 (required) and GITHUB: the profile, read with the access token.' }),
  emailsEndpoint: t.string({ description: "GITHUB: the account's emails (default https://api.github.com/user/emails)." }),
  scopes: t.stringList({ description: "Scopes to ask for; default the kind's (openid email profile; GitHub read:user user:email). OIDC kinds always ask for openid." }),
  claimMapping: t.field({
    type: 'JSON',
    description:
      'Which claim holds each profile field where it differs from the defaults, e.g. {"subject": "id", "username": "login"}. Fields: subject, email, emailVerified, username, name, givenName, familyName, picture.',
  }),
  trustEmail: t.boolean({ description: "Take the provider's emails as verified even without email_verified (only for providers that verify every email)." }),
  linkPolicy: t.field({ type: IdpLinkPolicyEnum }),
  storeTokens: t.boolean({ description: "Keep the provider's tokens (encrypted) with each link, for IdpLink.accessToken. Default false." }),
  enabled: t.boolean(),
});

const CreateIdentityProviderInput = builder.inputType('CreateIdentityProviderInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Unique, at most 100 characters ("Google", "Acme SSO").' }),
    kind: t.field({ type: IdentityProviderKindEnum, required: true }),
    ...providerSettings(t),
    clientId: t.string({ required: true, description: 'The client id the provider issued to this gateway.' }),
  }),
});

const UpdateIdentityProviderInput = builder.inputType('UpdateIdentityProviderInput', {
  description: 'Fields left out are unchanged; the kind never changes. clientSecret null removes the secret.',
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string(),
    ...providerSettings(t),
  }),
});

const DeleteIdentityProviderInput = builder.inputType('DeleteIdentityProviderInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    force: t.boolean({ defaultValue: false, description: 'Also remove the accounts linked to it (user.idp_unlinked for each). Without it, a provider with links is not deleted.' }),
  }),
});

const StartIdpIntentInput = builder.inputType('StartIdpIntentInput', {
  fields: (t) => ({
    idpId: t.id({ required: true, description: 'The identity provider.' }),
    successUrl: t.string({ required: true, description: 'Where the browser goes back with ?id=…&token=… on success. Its origin must be on PORTCULLIS_IDP_REDIRECT_ORIGINS.' }),
    failureUrl: t.string({ required: true, description: 'Where the browser goes back with ?id=…&error=<IdpFailureReason> on failure. Same allowlist.' }),
    purpose: t.field({ type: IdpIntentPurposeEnum, defaultValue: 'SIGN_IN' }),
    userId: t.id({ description: 'LINK only: the user the account will be linked to.' }),
  }),
});

const LoginWithIdpIntentInput = builder.inputType('LoginWithIdpIntentInput', {
  fields: (t) => ({
    ...IdpIntentFields(t),
    device: t.field({ type: DeviceInput }),
    organizationId: t.id({ description: 'Sign in to this organization, as login does (the user must be a member).' }),
  }),
});

const LinkIdpIntentInput = builder.inputType('LinkIdpIntentInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    ...IdpIntentFields(t),
  }),
});

const AddIdpLinkInput = builder.inputType('AddIdpLinkInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    idpId: t.id({ required: true }),
    subject: t.string({ required: true, description: "The provider's id of the account (OIDC sub, GitHub's numeric id)." }),
    username: t.string({ description: 'Its name at the provider, for people reading the link.' }),
  }),
});

const RemoveIdpLinkInput = builder.inputType('RemoveIdpLinkInput', { fields: (t) => ({ id: t.id({ required: true }) }) });

const affectedProvider = <Parent extends { id: string }>(t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, Parent>) =>
  t.prismaField({ type: 'IdentityProvider', resolve: (query, p, _args, ctx) => ctx.db.identityProvider.findUniqueOrThrow({ ...query, where: { id: p.id } }) });

const linkSuccess = (name: string, description: string) =>
  builder.objectRef<{ userId: string; linkId: string }>(name).implement({
    description,
    fields: (t) => ({
      user: affectedUser(t),
      idpLink: t.prismaField({ type: 'IdpLink', resolve: (query, r, _args, ctx) => ctx.db.idpLink.findUniqueOrThrow({ ...query, where: { id: r.linkId } }) }),
    }),
  });

const intentErrors = [E.IdpIntentInvalidError, E.IdpIntentExpiredError, E.IdpIntentAlreadyUsedError, E.IdpIntentFailedError, E.InvalidStateError];
const providerSuccess = (name: string, description: string) =>
  builder.objectRef<{ id: string }>(name).implement({ description, fields: (t) => ({ identityProvider: affectedProvider(t) }) });

builder.queryFields((t) => ({
  identityProviders: t.prismaConnection({
    type: 'IdentityProvider',
    cursor: 'id',
    authScopes: { admin: 'identity_providers:manage' },
    description: 'The configured identity providers, by name.',
    resolve: (query, _root, _args, ctx) => ctx.db.identityProvider.findMany({ ...query, orderBy: [{ name: 'asc' }, { id: 'asc' }] }),
    totalCount: (_connection, _args, ctx) => ctx.db.identityProvider.count(),
  }),
}));

builder.mutationFields((t) => ({
  createIdentityProvider: t.field({
    type: providerSuccess('CreateIdentityProviderSuccess', 'The provider is configured. Register its callbackUrl at the provider as the redirect URI.'),
    authScopes: { admin: 'identity_providers:manage' },
    description:
      "Adds an identity provider: generic OIDC (from its issuer), generic OAuth 2.0 (endpoints and claimMapping), or a preset (GOOGLE, MICROSOFT, GITHUB). The client secret is stored encrypted and never returned. Nothing is fetched from the provider until the first intent. Records identity_provider.created.",
    errors: { types: [E.InvalidInputError, E.AlreadyExistsError] },
    args: { input: t.arg({ type: CreateIdentityProviderInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.identityProviders.createIdentityProvider(input, ctx.meta),
  }),
  updateIdentityProvider: t.field({
    type: providerSuccess('UpdateIdentityProviderSuccess', 'The provider is changed.'),
    authScopes: { admin: 'identity_providers:manage' },
    description: 'Changes an identity provider (not its kind). Records identity_provider.updated with the changed fields.',
    errors: { types: [E.NotFoundError, E.InvalidInputError, E.AlreadyExistsError] },
    args: { input: t.arg({ type: UpdateIdentityProviderInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.identityProviders.updateIdentityProvider({ ...input, id: String(input.id) }, ctx.meta),
  }),
  deleteIdentityProvider: t.field({
    type: builder.objectRef<{ id: string; linksRemoved: number }>('DeleteIdentityProviderSuccess').implement({
      description: 'The provider and its intents are gone.',
      fields: (f) => ({
        deletedIdentityProviderId: f.exposeID('id'),
        linksRemoved: f.exposeInt('linksRemoved', { description: 'Accounts that were linked to it (with force).' }),
      }),
    }),
    authScopes: { admin: 'identity_providers:manage' },
    description: 'Deletes an identity provider. With linked accounts, only with force (which removes them). Records identity_provider.deleted.',
    errors: { types: [E.NotFoundError, E.IdentityProviderInUseError] },
    args: { input: t.arg({ type: DeleteIdentityProviderInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.identityProviders.deleteIdentityProvider({ id: String(input.id), force: input.force }, ctx.meta),
  }),
  startIdpIntent: t.field({
    ...publicOperation,
    type: builder.objectRef<{ intentId: string; authUrl: string; expiresAt: Date }>('StartIdpIntentSuccess').implement({
      description: 'Send the browser to authUrl. The provider sends it back to the gateway, which sends it on to successUrl or failureUrl.',
      fields: (f) => ({
        intentId: f.exposeID('intentId'),
        authUrl: f.exposeString('authUrl', { description: "The provider's sign-in page, with this intent's state, nonce and PKCE challenge." }),
        expiresAt: f.expose('expiresAt', { type: 'DateTime', description: 'The intent must be used before then.' }),
      }),
    }),
    // SIGN_IN is public (its token is what proves anything later); LINK names a user, so it needs an API key or that user's own access token.
    authScopes: (_root, args) => (args.input.purpose === 'LINK' ? { admin: 'users:write', self: { userId: String(args.input.userId ?? ''), scope: null } } : true),
    description:
      'Starts a trip to an identity provider (public for SIGN_IN, rate-limited like login; LINK needs an API key or the user\'s own access token). Returns the URL to send the browser to; the intent expires after PORTCULLIS_IDP_INTENT_TTL_SECONDS. successUrl and failureUrl must be on PORTCULLIS_IDP_REDIRECT_ORIGINS. A provider that cannot be reached answers IdpUnavailableError and nothing is written.',
    errors: { types: [E.NotFoundError, E.InvalidStateError, E.InvalidInputError, E.UserNotFoundError, E.IdpUnavailableError] },
    args: { input: t.arg({ type: StartIdpIntentInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.identityProviders.startIdpIntent(
        { idpId: String(input.idpId), successUrl: input.successUrl, failureUrl: input.failureUrl, purpose: input.purpose ?? 'SIGN_IN', userId: input.userId ? String(input.userId) : null },
        ctx.meta,
      ),
  }),
  retrieveIdpIntent: t.field({
    type: RetrieveIdpIntentSuccess,
    authScopes: { admin: 'users:read' },
    description:
      "What the provider said of the account an intent brought back (subject, email and whether it is verified, names, picture, raw claims), the user it is linked to, and a link candidate. Reading does not use the intent up; it refuses used, expired and failed intents (API keys only).",
    errors: { types: intentErrors },
    args: { input: t.arg({ type: IdpIntentInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.identityProviders.retrieveIdpIntent({ intentId: String(input.intentId), token: input.token }),
  }),
  loginWithIdpIntent: t.errorUnionField({
    ...publicOperation,
    types: [
      signInType('LoginWithIdpIntentSuccess', 'Signed in with the identity provider: the tokens of a new session.'),
      MfaRequired,
      E.IdpNotLinkedError,
      ...intentErrors,
      E.UserLockedError,
      E.UserInactiveError,
      E.InvalidInputError,
      E.NotAMemberError,
    ],
    union: { name: 'LoginWithIdpIntentResult', description: 'LoginWithIdpIntentSuccess, MfaRequired, or why not.' },
    description:
      'Signs in the user linked to the account an intent brought back (public: the intent token is the proof; rate-limited like login), using the intent up. A user with a second factor gets MfaRequired, exactly as after login. An account linked to no user answers IdpNotLinkedError and leaves the intent usable for createUser or linkIdpIntent (with linkPolicy AUTO_LINK_VERIFIED_EMAIL and both emails verified, it is linked and signed in at once). Records user.logged_in (method idp) or user.idp_login_failed.',
    args: { input: t.arg({ type: LoginWithIdpIntentInput, required: true }) },
    resolve: async (_root, { input }, ctx) =>
      (await ctx.services.identityProviders.loginWithIdpIntent(
        { intentId: String(input.intentId), token: input.token, device: input.device, organizationId: input.organizationId ? String(input.organizationId) : input.organizationId },
        ctx.meta,
      )) as never,
  }),
  linkIdpIntent: t.field({
    type: linkSuccess('LinkIdpIntentSuccess', "The provider's account is linked to the user."),
    authScopes: adminOrSelf('users:write', { session: true }),
    description:
      "Links the account an intent brought back to an existing user, using the intent up (API keys, or the user's own access token after a recent sign-in or reauthenticate: ReauthenticationRequiredError otherwise). A LINK intent links only its own user. The user's email is never changed. Records user.idp_linked.",
    errors: { types: [...intentErrors, E.UserNotFoundError, E.AlreadyExistsError, E.ReauthenticationRequiredError] },
    args: { input: t.arg({ type: LinkIdpIntentInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.identityProviders.linkIdpIntent({ userId: String(input.userId), intentId: String(input.intentId), token: input.token }, ctx.meta),
  }),
  addIdpLink: t.field({
    type: linkSuccess('AddIdpLinkSuccess', 'The account is linked to the user.'),
    authScopes: { admin: 'users:write' },
    description:
      "Links an account at a provider to a user by its subject, without a trip to the provider (imports and migrations; API keys only). Refused when the account is linked already. Records user.idp_linked.",
    errors: { types: [E.NotFoundError, E.UserNotFoundError, E.InvalidInputError, E.AlreadyExistsError] },
    args: { input: t.arg({ type: AddIdpLinkInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.identityProviders.addIdpLink({ userId: String(input.userId), idpId: String(input.idpId), subject: input.subject, username: input.username }, ctx.meta),
  }),
  removeIdpLink: t.field({
    type: builder.objectRef<{ userId: string; linkId: string }>('RemoveIdpLinkSuccess').implement({
      description: 'The link is gone; the user can no longer sign in with that account.',
      fields: (f) => ({ user: affectedUser(f), removedIdpLinkId: f.exposeID('linkId') }),
    }),
    authScopes: { admin: 'users:write' },
    description: "Removes a link (API keys only), unless it is the user's last way to sign in (no password, passkey or other link). Records user.idp_unlinked.",
    errors: { types: [E.NotFoundError, E.LastSignInMethodError] },
    args: { input: t.arg({ type: RemoveIdpLinkInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.identityProviders.removeIdpLink({ id: String(input.id) }, ctx.meta),
  }),
}));
