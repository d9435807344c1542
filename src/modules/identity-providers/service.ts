/**
 * External identity providers: their management, the intent flow (ZITADEL's
 * contract: start → the provider → the gateway's callback → the app's success
 * URL with the intent's id and token), and what an app does with an intent
 * (sign in, register, link).
 *
 * Account takeover guards (RESEARCH §1.11):
 * - a link is keyed by (provider, subject) alone, unique in the database;
 * - an email never links silently, except with AUTO_LINK_VERIFIED_EMAIL when
 *   the provider vouches for the email and the local user's is verified too;
 *   otherwise the intent names a link candidate, and linking needs the user's
 *   recent authentication (linkIdpIntent);
 * - linking never changes the local email;
 * - an intent is single use (a conditional update consumes it), short-lived,
 *   its state and token stored as SHA-256, its redirect URLs on an allowlist
 *   (ZITADEL CVE-2025-46815 came from reusable intents).
 */
import type { Config, DatabaseProvider } from '../../config.js';
import type { Clock } from '../../kernel/clock.js';
import { constantTimeEqual, decryptSecret, encryptSecret, tokenHash } from '../../kernel/crypto.js';
import type { Db, Tx } from '../../kernel/db/client.js';
import { isUniqueViolation } from '../../kernel/db/client.js';
import type { IdentityProvider, IdpIntent, IdpLink } from '../../kernel/db/models.js';
import { AlreadyExistsError, assertThat, InvalidInputError, InvalidStateError, NotFoundError, UserInactiveError, UserLockedError, UserNotFoundError } from '../../kernel/errors.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import { newId, randomSecret } from '../../kernel/ids.js';
import type { Logger } from '../../kernel/logger.js';
import { failureLabel, type Counter } from '../../kernel/metrics.js';
import type { EventPayloads, Outbox } from '../catalog.js';
import type { LockoutService } from '../lockout/service.js';
import type { SessionDevice, SessionService } from '../sessions/service.js';
import { sessionDevice, type LoginOutcome } from '../sign-in/login.js';
import type { MfaService } from '../sign-in/mfa.js';
import type { IdpIntentRef, IdpRegistration, IdpRegistrationHook } from '../users/service.js';
import { createIdpClient, failureReasonOf, newChecks, ProviderCallFailure, type ProviderConnection, type ProviderTokens } from './client.js';
import {
  IdentityProviderInUseError,
  IdpIntentAlreadyUsedError,
  IdpIntentExpiredError,
  IdpIntentFailedError,
  IdpIntentInvalidError,
  IdpNotLinkedError,
  IdpUnavailableError,
  LastSignInMethodError,
  type IdpFailureReason,
} from './errors.js';
import { endpointsOf, newProviderColumns, profileOf, updatedProviderColumns, type IdpProfile, type LinkPolicy, type ProviderColumns, type ProviderKind, type ProviderSettings } from './providers.js';
import { createIdpStore, type LinkProfileColumns } from './store.js';

export type IntentPurpose = 'SIGN_IN' | 'LINK';

const INTENT_TOKEN_PREFIX = 'pci_';
/** Stored provider tokens are refreshed this long before they expire. */
const REFRESH_MARGIN_MS = 30_000;
/** Expired intents are kept this long (for support and audit), then swept by the leader. */
const INTENT_KEEP_MS = 24 * 3600_000;
const SWEEP_EVERY_MS = 60_000;

/** What the callback leaves in an intent (encrypted): the profile, and the tokens when the provider keeps them. */
interface IntentResult {
  profile: IdpProfile;
  tokens: ProviderTokens | null;
}

/** What the callback answers the browser: a redirect, or a page for a request that names no intent. */
export type CallbackAnswer = { redirect: string } | { status: number; message: string };

/** An intent whose token was checked, with its provider and what came back. */
export interface OpenedIntent {
  intent: IdpIntent;
  provider: IdentityProvider;
  result: IntentResult;
}

/** What retrieveIdpIntent answers. */
export interface RetrievedIntent {
  intentId: string;
  purpose: IntentPurpose;
  expiresAt: Date;
  identityProviderId: string;
  profile: IdpProfile;
  /** The user this account is linked to. */
  userId: string | null;
  linkId: string | null;
  /** A user with the provider's verified email, when the account is linked to none (the link policy allowing). */
  linkCandidateUserId: string | null;
}

const identityProviderPayload = (p: IdentityProvider) => ({
  id: p.id,
  name: p.name,
  kind: p.kind as ProviderKind,
  issuer: p.issuer,
  clientId: p.clientId,
  linkPolicy: p.linkPolicy as LinkPolicy,
  trustEmail: p.trustEmail,
  storeTokens: p.storeTokens,
  enabled: p.enabled,
});

const linkPayload = (l: IdpLink) => ({ id: l.id, identityProviderId: l.idpId, subject: l.subject, username: l.username });

const profileColumns = (profile: IdpProfile): LinkProfileColumns => ({
  username: profile.username,
  email: profile.email,
  emailVerified: profile.emailVerified,
  profile: profile.raw,
});

/** A provider's row as settings, for an update to merge into. */
const columnsOf = (p: IdentityProvider): ProviderColumns => ({
  name: p.name,
  ...endpointsOf(p),
  claimMapping: (p.claimMapping as ProviderColumns['claimMapping']) ?? null,
  trustEmail: p.trustEmail,
  linkPolicy: p.linkPolicy as LinkPolicy,
  storeTokens: p.storeTokens,
  enabled: p.enabled,
});

/** A secret setting: at most 1000 printable characters. */
function secretOf(value: string): string {
  if (!value || value.length > 1000 || /[\u0000-\u001f]/.test(value)) throw new InvalidInputError('clientSecret', 'A client secret is 1 to 1000 printable characters.');
  return value;
}

export type IdentityProviderService = ReturnType<typeof createIdentityProviderService>;

export function createIdentityProviderService(deps: {
  db: Db;
  provider: DatabaseProvider;
  outbox: Outbox;
  clock: Clock;
  key: Buffer;
  config: Config['identityProviders'];
  sessions: Pick<SessionService, 'createSession' | 'assertRecentAuthentication'>;
  mfa: Pick<MfaService, 'availableMethods' | 'createChallenge'>;
  lockout: Pick<LockoutService, 'assertCanAct'>;
  logger: Logger;
  /** Replaces fetch for requests to providers (tests route named hosts to 127.0.0.1). */
  fetch?: typeof fetch;
  /** Counts sign-ins by method and outcome (portcullis_sign_ins_total). */
  signIns?: Counter<'method' | 'outcome'>;
}) {
  const { db, outbox, clock, key, config } = deps;
  const store = createIdpStore({ db, provider: deps.provider });
  const client = createIdpClient({ callbackUrl: config.callbackUrl, timeoutMs: config.timeoutMs, fetch: deps.fetch, now: () => clock.now() });
  let lastSweep = 0;

  const connectionOf = (p: IdentityProvider): ProviderConnection => ({
    id: p.id,
    ...endpointsOf(p),
    clientSecret: p.clientSecretEncrypted ? decryptSecret(key, p.clientSecretEncrypted, p.id) : null,
    updatedAt: p.updatedAt,
  });

  async function providerOrThrow(id: string): Promise<IdentityProvider> {
    const provider = typeof id === 'string' && id.startsWith('idp_') ? await store.findProvider(db, id) : null;
    if (!provider) throw new NotFoundError('identity provider');
    return provider;
  }

  function assertEnabled(provider: IdentityProvider) {
    if (!provider.enabled) throw new InvalidStateError('The identity provider is disabled.', 'DISABLED');
  }

  /** A write whose unique violation is a name (providers) or an identity (links) someone already has. */
  async function unique<T>(what: 'name' | 'identity', fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (isUniqueViolation(error)) throw what === 'name' ? new AlreadyExistsError('name', 'identity provider') : new AlreadyExistsError('identity');
      throw error;
    }
  }

  /**
   * A success or failure URL: absolute http(s), no credentials, at most 2048
   * characters, and its origin on PORTCULLIS_IDP_REDIRECT_ORIGINS (an open
   * redirect would hand the intent's token to whoever names a URL).
   */
  function redirectUrl(field: string, value: string): string {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      // reported below
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || value.length > 2048 || url.username || url.password) {
      throw new InvalidInputError(field, `${field} must be an absolute http(s) URL of at most 2048 characters, without credentials.`);
    }
    if (!config.redirectOrigins.includes(url.origin)) {
      throw new InvalidInputError(field, `${field} is not on an allowed origin: add ${url.origin} to PORTCULLIS_IDP_REDIRECT_ORIGINS if it is yours.`);
    }
    return url.href;
  }

  /** `url` with the intent's answer in its query (replacing parameters of the same names). */
  function withParams(url: string, params: Record<string, string>): string {
    const target = new URL(url);
    for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
    return target.href;
  }

  async function recordLoginFailed(userId: string | null, data: EventPayloads['user.idp_login_failed'], meta: RequestMeta) {
    await outbox.append({ type: 'user.idp_login_failed', userId, data }, meta);
  }

  /**
   * Checks an intent's id and token and returns it with what came back.
   * A failed intent answers its reason (its id alone tells nothing secret),
   * an unfinished one InvalidStateError; otherwise the token must match
   * before anything else is said. Throws IdpIntentInvalidError,
   * IdpIntentFailedError, IdpIntentAlreadyUsedError, IdpIntentExpiredError,
   * InvalidStateError.
   */
  async function openIntent(input: IdpIntentRef): Promise<OpenedIntent> {
    const intent = typeof input.intentId === 'string' && input.intentId.startsWith('idi_') ? await store.findIntent(db, input.intentId) : null;
    if (!intent) throw new IdpIntentInvalidError();
    if (intent.status === 'FAILED') throw new IdpIntentFailedError((intent.failureReason as IdpFailureReason) ?? 'PROVIDER_ERROR');
    if (!intent.tokenHash) throw new InvalidStateError('The intent has not come back from the identity provider yet.', intent.status);
    const given = typeof input.token === 'string' && input.token.startsWith(INTENT_TOKEN_PREFIX) ? tokenHash(input.token) : '';
    if (!constantTimeEqual(given, intent.tokenHash)) throw new IdpIntentInvalidError();
    if (intent.status === 'CONSUMED') throw new IdpIntentAlreadyUsedError();
    if (intent.expiresAt <= clock.now() || !intent.resultEncrypted) throw new IdpIntentExpiredError();
    const provider = await store.findProvider(db, intent.idpId);
    if (!provider) throw new IdpIntentInvalidError();
    const result = JSON.parse(decryptSecret(key, intent.resultEncrypted, intent.id)) as IntentResult;
    return { intent, provider, result };
  }

  /** Consumes an opened intent inside `tx`; throws why not when another use (or the expiry) came first. */
  async function consume(tx: Tx, intent: IdpIntent): Promise<void> {
    const now = clock.now();
    if (await store.consumeIntent(tx, intent.id, intent.tokenHash!, now)) return;
    throw intent.expiresAt <= now ? new IdpIntentExpiredError() : new IdpIntentAlreadyUsedError();
  }

  /** The provider's tokens sealed for a link (bound to its id), when the provider keeps them. */
  const sealTokens = (provider: IdentityProvider, tokens: ProviderTokens | null) => (linkId: string) =>
    provider.storeTokens && tokens ? encryptSecret(key, JSON.stringify(tokens), linkId) : null;

  /** A user whose email is the provider's verified one (PROMPT and AUTO_LINK_VERIFIED_EMAIL); null otherwise. */
  async function linkCandidate(provider: IdentityProvider, profile: IdpProfile) {
    if (provider.linkPolicy === 'NONE' || !profile.email || !profile.emailVerified) return null;
    return store.findUserByEmail(profile.email.toLowerCase());
  }

  /**
   * The user an unlinked account links to by itself: only with
   * AUTO_LINK_VERIFIED_EMAIL, when the provider vouches for the email and
   * the local user's email is verified too (Better Auth's
   * requireLocalEmailVerified); email is unique, so at most one matches.
   */
  async function autoLinkUser(provider: IdentityProvider, profile: IdpProfile): Promise<string | null> {
    if (provider.linkPolicy !== 'AUTO_LINK_VERIFIED_EMAIL') return null;
    const candidate = await linkCandidate(provider, profile);
    return candidate?.emailVerifiedAt ? candidate.id : null;
  }

  /** Inserts a link and records user.idp_linked, inside `tx`; AlreadyExistsError when the identity is taken. */
  async function insertLink(
    tx: Tx,
    row: { userId: string; provider: IdentityProvider; subject: string; columns: LinkProfileColumns; tokens: ProviderTokens | null },
    via: EventPayloads['user.idp_linked']['via'],
    meta: RequestMeta,
  ): Promise<IdpLink> {
    const link = await unique('identity', () =>
      store.insertLink(tx, {
        userId: row.userId,
        idpId: row.provider.id,
        subject: row.subject,
        ...row.columns,
        tokensEncrypted: sealTokens(row.provider, row.tokens),
        now: clock.now(),
      }),
    );
    await outbox.record(tx, { type: 'user.idp_linked', userId: row.userId, data: { link: linkPayload(link), via } }, meta);
    return link;
  }

  /** Signs in the user an intent's account is linked to (see loginWithIdpIntent). */
  async function loginWithIntent(
    input: IdpIntentRef & { device?: SessionDevice | null; organizationId?: string | null },
    meta: RequestMeta,
  ): Promise<LoginOutcome> {
    const device = sessionDevice(input.device, meta);
    const { intent, provider, result } = await openIntent(input);
    assertEnabled(provider);
    if (intent.purpose === 'LINK') throw new InvalidInputError('intentId', 'A LINK intent links an account (linkIdpIntent); sign in with a SIGN_IN intent.');
    const { profile } = result;
    const link = await store.findLink(db, provider.id, profile.subject);
    const userId = link?.userId ?? (await autoLinkUser(provider, profile));
    if (!userId) throw new IdpNotLinkedError((await linkCandidate(provider, profile))?.id ?? null);
    try {
      // Before the intent is spent: a locked user keeps it for when they may act again.
      await deps.lockout.assertCanAct(userId);
    } catch (error) {
      if (error instanceof UserLockedError || error instanceof UserInactiveError) {
        await recordLoginFailed(userId, { identityProviderId: provider.id, intentId: intent.id, reason: error instanceof UserLockedError ? 'locked' : 'inactive' }, meta);
      }
      throw error;
    }
    await unique('identity', () =>
      outbox.transaction(async (tx) => {
        await consume(tx, intent);
        if (link) {
          const sealed = sealTokens(provider, result.tokens)(link.id);
          return store.touchLink(tx, link.id, { ...profileColumns(profile), ...(sealed ? { tokensEncrypted: sealed } : {}), now: clock.now() });
        }
        return insertLink(tx, { userId, provider, subject: profile.subject, columns: profileColumns(profile), tokens: result.tokens }, 'verified_email', meta);
      }),
    );
    // The same step-up as login: a provider's sign-in is a first factor.
    const methods = await deps.mfa.availableMethods(userId);
    if (methods.length > 0) {
      const challenge = await deps.mfa.createChallenge(userId, device, input.organizationId ?? null);
      return { kind: 'mfa_required', userId, methods, ...challenge };
    }
    const tokens = await deps.sessions.createSession(userId, device, meta, 'idp', input.organizationId ?? null, { identityProviderId: provider.id });
    return { kind: 'session', ...tokens };
  }

  /** The callback's work once the intent is claimed: exchange, profile, and the intent's outcome. */
  async function completeIntent(intent: IdpIntent, provider: IdentityProvider, query: URLSearchParams, state: string, meta: RequestMeta): Promise<CallbackAnswer> {
    const failed = async (reason: IdpFailureReason, error?: unknown) => {
      deps.logger.info({ intentId: intent.id, identityProviderId: provider.id, reason, err: error instanceof ProviderCallFailure ? error.cause : error }, 'identity provider sign-in failed');
      await store.failIntent(intent.id, reason, clock.now());
      await recordLoginFailed(null, { identityProviderId: provider.id, intentId: intent.id, reason }, meta);
      return { redirect: withParams(intent.failureUrl, { id: intent.id, error: reason }) };
    };
    if (!provider.enabled) return failed('PROVIDER_DISABLED');
    const secrets = JSON.parse(decryptSecret(key, intent.secretsEncrypted, intent.id)) as { codeVerifier: string; nonce: string };
    let result: IntentResult;
    try {
      const answer = await client.completeCallback(connectionOf(provider), query, { state, nonce: secrets.nonce, codeVerifier: secrets.codeVerifier });
      const profile = profileOf({ kind: provider.kind as ProviderKind, claimMapping: provider.claimMapping, trustEmail: provider.trustEmail }, answer.claims, answer.emails);
      if (!profile) return failed('PROFILE_INVALID');
      // Tokens are kept only for providers that keep them; the rest of the answer is dropped.
      result = { profile, tokens: provider.storeTokens ? answer.tokens : null };
    } catch (error) {
      return failed(failureReasonOf(error), error);
    }
    const token = `${INTENT_TOKEN_PREFIX}${randomSecret(32)}`;
    const completed = await store.completeIntent(intent.id, {
      tokenHash: tokenHash(token),
      subject: result.profile.subject,
      resultEncrypted: encryptSecret(key, JSON.stringify(result), intent.id),
      now: clock.now(),
    });
    if (!completed) return { redirect: withParams(intent.failureUrl, { id: intent.id, error: 'INTENT_ALREADY_USED' }) };
    return { redirect: withParams(intent.successUrl, { id: intent.id, token }) };
  }

  /** Registration with an intent: checked here, linked in createUser's transaction. */
  const registration: IdpRegistrationHook = {
    async prepare(input: IdpIntentRef): Promise<IdpRegistration> {
      const { intent, provider, result } = await openIntent(input);
      assertEnabled(provider);
      if (intent.purpose === 'LINK') throw new InvalidInputError('idpIntent', 'A LINK intent links an existing user (linkIdpIntent); register with a SIGN_IN intent.');
      const { profile } = result;
      if (await store.findLink(db, provider.id, profile.subject)) throw new AlreadyExistsError('identity');
      return {
        email: profile.email,
        emailVerified: profile.emailVerified,
        givenName: profile.givenName,
        familyName: profile.familyName,
        displayName: profile.name,
        async link(tx, userId, meta) {
          await consume(tx, intent);
          await insertLink(tx, { userId, provider, subject: profile.subject, columns: profileColumns(profile), tokens: result.tokens }, 'registration', meta);
        },
      };
    },
  };

  return {
    /** createUser's hook for registering with an intent (users/service.ts). */
    registration,

    /** The redirect URI every provider sends the browser back to. */
    callbackUrl: config.callbackUrl,

    /**
     * Adds a provider. The client secret is encrypted at rest, bound to the
     * provider's id, and never returned. Nothing is fetched from the provider
     * yet: the first intent discovers it. Throws InvalidInputError,
     * AlreadyExistsError('name').
     */
    async createIdentityProvider(input: ProviderSettings & { kind: ProviderKind; clientSecret?: string | null }, meta: RequestMeta): Promise<IdentityProvider> {
      const columns = newProviderColumns(input.kind, input);
      const secret = input.clientSecret ? secretOf(input.clientSecret) : null;
      const id = newId('IdentityProvider');
      return unique('name', () =>
        outbox.transaction(async (tx) => {
          const created = await store.insertProvider(tx, { id, ...columns, clientSecretEncrypted: secret ? encryptSecret(key, secret, id) : null, now: clock.now() });
          await outbox.record(tx, { type: 'identity_provider.created', data: { identityProvider: identityProviderPayload(created) } }, meta);
          return created;
        }),
      );
    },

    /**
     * Changes a provider's settings; the kind stays. `clientSecret` replaces
     * the secret, null removes it, absent keeps it. Throws NotFoundError,
     * InvalidInputError, AlreadyExistsError('name').
     */
    async updateIdentityProvider(input: ProviderSettings & { id: string; clientSecret?: string | null }, meta: RequestMeta): Promise<IdentityProvider> {
      const current = await providerOrThrow(input.id);
      const { columns, changes } = updatedProviderColumns(columnsOf(current), input);
      const secret = input.clientSecret === undefined ? undefined : input.clientSecret === null ? null : secretOf(input.clientSecret);
      if (secret !== undefined) changes.push('clientSecret');
      const updated = await unique('name', () =>
        outbox.transaction(async (tx) => {
          const row = await store.updateProvider(tx, current.id, {
            ...columns,
            ...(secret !== undefined ? { clientSecretEncrypted: secret ? encryptSecret(key, secret, current.id) : null } : {}),
            now: clock.now(),
          });
          await outbox.record(tx, { type: 'identity_provider.updated', data: { identityProvider: identityProviderPayload(row), changes } }, meta);
          return row;
        }),
      );
      client.forget(current.id);
      return updated;
    },

    /**
     * Deletes a provider with its intents. While accounts are linked to it,
     * only with `force`, which removes the links too (user.idp_unlinked for
     * each): deleting would take a way to sign in from their users. Throws
     * NotFoundError, IdentityProviderInUseError.
     */
    async deleteIdentityProvider(input: { id: string; force?: boolean | null }, meta: RequestMeta): Promise<{ id: string; linksRemoved: number }> {
      const current = await providerOrThrow(input.id);
      const linksRemoved = await outbox.transaction(async (tx) => {
        const links = await store.findLinksOfProvider(tx, current.id);
        if (links.length > 0 && !input.force) throw new IdentityProviderInUseError(links.length);
        for (const link of links) {
          await outbox.record(tx, { type: 'user.idp_unlinked', userId: link.userId, data: { link: linkPayload(link), reason: 'provider_deleted' } }, meta);
        }
        if (!(await store.deleteProvider(tx, current.id))) throw new NotFoundError('identity provider');
        await outbox.record(tx, { type: 'identity_provider.deleted', data: { identityProvider: identityProviderPayload(current), linksRemoved: links.length } }, meta);
        return links.length;
      });
      client.forget(current.id);
      return { id: current.id, linksRemoved };
    },

    /**
     * Starts a trip to a provider: returns the URL to send the browser to,
     * with a fresh state, nonce (OIDC) and PKCE challenge. SIGN_IN intents
     * serve sign-in and registration; LINK intents name the user they may be
     * linked to. Nothing is written unless the provider answered (an OIDC
     * provider is discovered first). Throws NotFoundError, InvalidStateError
     * (disabled), InvalidInputError (a redirect URL off the allowlist, a
     * userId where it does not belong), UserNotFoundError, IdpUnavailableError.
     */
    async startIdpIntent(
      input: { idpId: string; successUrl: string; failureUrl: string; purpose: IntentPurpose; userId?: string | null },
      meta: RequestMeta,
    ): Promise<{ intentId: string; authUrl: string; expiresAt: Date }> {
      const provider = await providerOrThrow(input.idpId);
      assertEnabled(provider);
      const successUrl = redirectUrl('successUrl', input.successUrl);
      const failureUrl = redirectUrl('failureUrl', input.failureUrl);
      let linkUserId: string | null = null;
      if (input.purpose === 'LINK') {
        if (!input.userId) throw new InvalidInputError('userId', 'A LINK intent names the user it links.');
        assertThat(meta.actor.type !== 'user' || meta.actor.id === input.userId, () => new UserNotFoundError(input.userId!));
        if (!(await store.findUser(db, input.userId))) throw new UserNotFoundError(input.userId);
        linkUserId = input.userId;
      } else if (input.userId) {
        throw new InvalidInputError('userId', 'Only a LINK intent names a user.');
      }
      const checks = newChecks();
      let authUrl: string;
      try {
        authUrl = await client.authorizationUrl(connectionOf(provider), checks);
      } catch (error) {
        deps.logger.warn({ identityProviderId: provider.id, err: error instanceof ProviderCallFailure ? error.cause : error }, 'identity provider unreachable at intent start');
        throw new IdpUnavailableError();
      }
      const id = newId('IdpIntent');
      const now = clock.now();
      const expiresAt = new Date(now.getTime() + config.intentTtlSeconds * 1000);
      await store.insertIntent({
        id,
        idpId: provider.id,
        purpose: input.purpose,
        linkUserId,
        stateHash: tokenHash(checks.state),
        secretsEncrypted: encryptSecret(key, JSON.stringify({ codeVerifier: checks.codeVerifier, nonce: checks.nonce }), id),
        successUrl,
        failureUrl,
        expiresAt,
        now,
      });
      return { intentId: id, authUrl, expiresAt };
    },

    /**
     * GET /idps/callback: the provider sends the browser back here. The state
     * names the intent; one callback per intent exchanges the code (a replay
     * changes nothing). The browser goes on to the intent's success URL with
     * `id` and `token`, or to its failure URL with `id` and `error`. A state
     * that names no live intent gets a plain 400: there is no URL to trust.
     */
    async handleCallback(query: URLSearchParams, meta: RequestMeta): Promise<CallbackAnswer> {
      const state = query.get('state');
      const intent = state && state.length <= 512 ? await store.findIntentByStateHash(tokenHash(state)) : null;
      if (!state || !intent) return { status: 400, message: 'This sign-in link is not valid. Start the sign-in again.' };
      const failure = (error: string) => ({ redirect: withParams(intent.failureUrl, { id: intent.id, error }) });
      if (intent.expiresAt <= clock.now()) return failure('INTENT_EXPIRED');
      if (!(await store.claimIntentForCallback(intent.id, clock.now()))) return failure('INTENT_ALREADY_USED');
      const provider = await store.findProvider(db, intent.idpId);
      if (!provider) return failure('PROVIDER_DISABLED');
      return completeIntent(intent, provider, query, state, meta);
    },

    /**
     * What the provider said of the account (read only: the intent stays
     * usable), the user it is linked to, and a link candidate: a user with
     * the provider's verified email (unless the provider's policy is NONE).
     * Throws what openIntent throws.
     */
    async retrieveIdpIntent(input: IdpIntentRef): Promise<RetrievedIntent> {
      const { intent, provider, result } = await openIntent(input);
      const link = await store.findLink(db, provider.id, result.profile.subject);
      const candidate = link ? null : await linkCandidate(provider, result.profile);
      return {
        intentId: intent.id,
        purpose: intent.purpose as IntentPurpose,
        expiresAt: intent.expiresAt,
        identityProviderId: provider.id,
        profile: result.profile,
        userId: link?.userId ?? null,
        linkId: link?.id ?? null,
        linkCandidateUserId: candidate?.id ?? null,
      };
    },

    /**
     * Signs in the user the intent's account is linked to, consuming the
     * intent: a session (user.logged_in, method idp), or the MFA step-up
     * when the user has a second factor, exactly as login. An unlinked
     * account is linked first only under AUTO_LINK_VERIFIED_EMAIL (both
     * emails verified); otherwise IdpNotLinkedError, with the intent left
     * usable for createUser or linkIdpIntent. Throws the intent's errors,
     * IdpNotLinkedError, InvalidStateError (disabled), UserLockedError,
     * UserInactiveError, NotAMemberError, InvalidInputError.
     */
    async loginWithIdpIntent(input: IdpIntentRef & { device?: SessionDevice | null; organizationId?: string | null }, meta: RequestMeta): Promise<LoginOutcome> {
      try {
        const outcome = await loginWithIntent(input, meta);
        deps.signIns?.inc({ method: 'idp', outcome: outcome.kind === 'session' ? 'success' : 'mfa_required' });
        return outcome;
      } catch (error) {
        deps.signIns?.inc({ method: 'idp', outcome: failureLabel(error) });
        throw error;
      }
    },

    /**
     * Links the intent's account to an existing user, consuming the intent.
     * A user acting on themselves must have authenticated recently
     * (ReauthenticationRequiredError otherwise): a link is a way to sign in.
     * A LINK intent links only the user it was started for. The local email
     * never changes. Throws the intent's errors, UserNotFoundError,
     * AlreadyExistsError('identity') (linked to another user),
     * InvalidStateError (already linked to this one, or a disabled provider).
     */
    async linkIdpIntent(input: IdpIntentRef & { userId: string }, meta: RequestMeta): Promise<{ userId: string; linkId: string }> {
      await deps.sessions.assertRecentAuthentication(meta);
      assertThat(meta.actor.type !== 'user' || meta.actor.id === input.userId, () => new UserNotFoundError(input.userId));
      const { intent, provider, result } = await openIntent(input);
      assertEnabled(provider);
      if (intent.purpose === 'LINK' && intent.linkUserId !== input.userId) throw new IdpIntentInvalidError();
      if (!(await store.findUser(db, input.userId))) throw new UserNotFoundError(input.userId);
      const { profile } = result;
      const existing = await store.findLink(db, provider.id, profile.subject);
      if (existing?.userId === input.userId) throw new InvalidStateError('This account of the identity provider is linked to the user already.', 'LINKED');
      if (existing) throw new AlreadyExistsError('identity');
      const link = await outbox.transaction(async (tx) => {
        await consume(tx, intent);
        return insertLink(tx, { userId: input.userId, provider, subject: profile.subject, columns: profileColumns(profile), tokens: result.tokens }, 'intent', meta);
      });
      return { userId: input.userId, linkId: link.id };
    },

    /**
     * Links an account by its subject, without a trip to the provider
     * (ZITADEL AddIDPLink: imports, migrations). Throws NotFoundError,
     * UserNotFoundError, InvalidInputError, AlreadyExistsError('identity').
     */
    async addIdpLink(input: { userId: string; idpId: string; subject: string; username?: string | null }, meta: RequestMeta): Promise<{ userId: string; linkId: string }> {
      const provider = await providerOrThrow(input.idpId);
      const subject = typeof input.subject === 'string' ? input.subject.trim() : '';
      if (!subject || subject.length > 255) throw new InvalidInputError('subject', "subject is the provider's id of the account: 1 to 255 characters.");
      const username = input.username?.trim() || null;
      if (username && username.length > 200) throw new InvalidInputError('username', 'A username has at most 200 characters.');
      if (!(await store.findUser(db, input.userId))) throw new UserNotFoundError(input.userId);
      const link = await outbox.transaction((tx) =>
        insertLink(tx, { userId: input.userId, provider, subject, columns: { username, email: null, emailVerified: false, profile: null }, tokens: null }, 'admin', meta),
      );
      return { userId: input.userId, linkId: link.id };
    },

    /**
     * Removes a link, unless it is the user's last way to sign in (no
     * password, no passkey, no other link): decided under a lock on the user,
     * so two removals cannot both take the last two. Throws NotFoundError,
     * LastSignInMethodError.
     */
    async removeIdpLink(input: { id: string }, meta: RequestMeta): Promise<{ userId: string; linkId: string }> {
      return outbox.transaction(async (tx) => {
        const link = typeof input.id === 'string' && input.id.startsWith('idl_') ? await store.findLinkById(tx, input.id) : null;
        if (!link) throw new NotFoundError('identity-provider link');
        await store.lockUser(tx, link.userId);
        if ((await store.countOtherSignInMethods(tx, link.userId, link.id)) === 0) throw new LastSignInMethodError();
        if (!(await store.deleteLink(tx, link.id))) throw new NotFoundError('identity-provider link');
        await outbox.record(tx, { type: 'user.idp_unlinked', userId: link.userId, data: { link: linkPayload(link), reason: 'removed' } }, meta);
        return { userId: link.userId, linkId: link.id };
      });
    },

    /**
     * The provider's access token kept with a link (providers with
     * storeTokens), refreshed first when it expires within 30 s and a refresh
     * token is kept. Null when none is kept, or it expired and could not be
     * refreshed (the provider's answer is logged).
     */
    async linkAccessToken(link: Pick<IdpLink, 'id' | 'idpId' | 'tokensEncrypted'>): Promise<string | null> {
      if (!link.tokensEncrypted) return null;
      const tokens = JSON.parse(decryptSecret(key, link.tokensEncrypted, link.id)) as ProviderTokens;
      const now = clock.now();
      if (!tokens.expiresAt || Date.parse(tokens.expiresAt) - REFRESH_MARGIN_MS > now.getTime()) return tokens.accessToken;
      const provider = await store.findProvider(db, link.idpId);
      if (!tokens.refreshToken || !provider?.storeTokens) return null;
      try {
        const next = await client.refresh(connectionOf(provider), tokens);
        await store.replaceLinkTokens(link.id, link.tokensEncrypted, encryptSecret(key, JSON.stringify(next), link.id), now);
        return next.accessToken;
      } catch (error) {
        deps.logger.warn({ linkId: link.id, identityProviderId: provider.id, reason: failureReasonOf(error) }, 'could not refresh an identity provider token');
        return null;
      }
    },

    /** The leader's chore: deletes intents a day after they expired, at most once a minute. */
    async sweepExpiredIntents(): Promise<number> {
      const now = clock.now().getTime();
      if (now - lastSweep < SWEEP_EVERY_MS) return 0;
      lastSweep = now;
      return store.deleteIntentsExpiredBefore(new Date(now - INTENT_KEEP_MS));
    },
  };
}
