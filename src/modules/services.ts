/**
 * The composition root: builds every service with its explicit dependencies.
 * The CLI, the GraphQL schema and the tests all get their services from here.
 */
import type { Config } from '../config.js';
import type { Db } from '../kernel/db/client.js';
import type { DirectReads, DirectSql } from '../kernel/db/direct.js';
import type { Committed } from '../kernel/events/outbox.js';
import { createEventOutbox, type Outbox } from './catalog.js';
import { createMemoryPubSub, type EventPubSub } from '../kernel/events/pubsub.js';
import { createEventStreams, type RelayView } from '../kernel/events/streams.js';
import type { Logger } from '../kernel/logger.js';
import { createMetrics, type Metrics } from '../kernel/metrics.js';
import { createDelivery, type Delivery } from '../kernel/delivery/index.js';
import { createApiKeyService } from './access-tokens/api-keys.js';
import { apiKeyStrategy, bootstrapKeyStrategy } from './access-tokens/auth-strategy.js';
import { accessTokenStrategy } from './sessions/auth-strategy.js';
import { createPersonalAccessTokenService } from './personal-access-tokens/service.js';
import { personalAccessTokenStrategy } from './personal-access-tokens/auth-strategy.js';
import { totpStrategy } from './totp/strategy.js';
import { otpStrategy } from './otp/strategy.js';
import { passkeyStrategy } from './passkeys/strategy.js';
import { createAuthMethodService } from './auth-methods/service.js';
import { createBackupCodeService } from './totp/backup-codes.js';
import { systemClock, type Clock } from '../kernel/clock.js';
import { createCodeDelivery } from './codes/code-delivery.js';
import { createContactService } from './users/contacts.service.js';
import { createLockoutService } from './lockout/service.js';
import { createLoginService } from './sign-in/login.js';
import { createMfaService } from './sign-in/mfa.js';
import { tracedStrategies } from './sign-in/strategy.js';
import { tracedMethods } from '../kernel/tracing.js';
import { createOneTimeCodeService } from './codes/one-time-codes.js';
import { createOtpFactorService } from './otp/service.js';
import { createPasswordHasher } from './password/hashing.js';
import { createPasswordService } from './password/service.js';
import { composeClaims, createSessionService, type ActivityHook } from './sessions/service.js';
import { createSigningKeyService } from './sessions/signing-keys.js';
import { createTotpService } from './totp/service.js';
import { createUserService } from './users/service.js';
import { createUserMetadataService, type UserMetadataService } from './users/metadata.service.js';
import { createWebhookService } from './webhooks/service.js';
import { createWebhookPortalService } from './webhooks/portal.js';
import type { Lookup } from './webhooks/ssrf.js';
import type { RateLimiter } from '../kernel/rate-limiter.js';
import { createWebAuthnService } from './passkeys/service.js';
import { createRoleService } from './organizations/roles.js';
import { createAccessService, type AccessService } from './organizations/access.js';
import { createOrganizationService } from './organizations/organizations.js';
import { createInvitationService } from './organizations/invitations.js';
import { createDomainService } from './organizations/domains.js';
import { createStatisticsService } from './statistics/service.js';
import { createIdentityProviderService } from './identity-providers/service.js';

export interface ServiceDeps {
  db: Db;
  /** Prepared plain statements for the hottest paths. */
  direct: DirectSql;
  /** Long standalone reads (text search), off the main thread on SQLite. */
  reader: DirectReads;
  config: Readonly<Config>;
  logger: Logger;
  clock?: Clock;
  /** Called after a transaction that recorded events commits (wakes the relay). */
  onEventsCommitted?: (committed: Committed) => void;
  /** The relay's NOTIFY for direct event inserts to send themselves (outbox.ts); null when none. */
  eventNotice?: () => readonly [channel: string, payload: string] | null;
  /** Replaces the delivery built from config.delivery (tests use a code sink). */
  delivery?: Delivery;
  /** Pub/sub of committed events (createApp passes Redis when configured; default in-process). */
  pubsub?: EventPubSub;
  /** This instance's relay, for subscribers switching from replay to live. */
  relay?: RelayView;
  /** Called when webhook deliveries were queued (wakes the dispatcher). */
  onWebhookDeliveriesQueued?: () => void;
  /** DNS lookup for webhook SSRF checks (tests resolve names to chosen addresses). */
  webhookLookup?: Lookup;
  /** fetch for requests to identity providers (tests answer named providers from 127.0.0.1). */
  idpFetch?: typeof fetch;
  /** Budget of login attempts per identifier, whatever the address (null: no limit). */
  loginIdentifierLimiter?: RateLimiter | null;
  /** Where the services count what operators watch (createApp's registry; default a private one nobody reads). */
  metrics?: Metrics;
}

export type Services = ReturnType<typeof createServices>;

export function createServices(deps: ServiceDeps) {
  const { db, direct, config } = deps;
  const clock = deps.clock ?? systemClock;
  if (!config.encryptionKey) throw new Error('services need the encryption key resolved first (createApp does it)');
  const key = config.encryptionKey;
  const outbox = createEventOutbox({ db, direct, env: config.env, now: () => clock.now(), onCommitted: deps.onEventsCommitted, notice: deps.eventNotice });
  const metrics = deps.metrics ?? createMetrics();
  const signIns = metrics.counter('portcullis_sign_ins_total', 'Sign-in attempts by method (password, totp, backup_code, otp_sms, otp_email, passkey, idp) and outcome (success, mfa_required, or the error code in lower case).', [
    'method',
    'outcome',
  ]);
  const lockouts = metrics.counter('portcullis_lockouts_total', 'Accounts locked by the lockout policy, by reason (too_many_failed_passwords, too_many_failed_codes).', ['reason']);
  const lockout = createLockoutService({ db, direct, outbox, clock, policy: config.lockout, lockouts });
  const codes = createOneTimeCodeService({ db, clock, key, policy: config.otp });
  const delivery = deps.delivery ?? createDelivery({ config, logger: deps.logger, now: () => clock.now() });
  const codeDelivery = createCodeDelivery({ codes, lockout, delivery, ttlSeconds: config.otp.ttlSeconds });
  const passwordHasher = createPasswordHasher(config.passwords.argon2);
  metrics.gaugeFrom('portcullis_password_hashes_in_flight', "argon2 (and imported PBKDF2) hashes and verifications started and not finished: running on libuv's thread pool or waiting for a thread.", [], () => [
    { labels: {}, value: passwordHasher.inFlight() },
  ]);
  metrics.gaugeFrom(
    'portcullis_password_hashes_queued',
    'Of those, how many wait for a thread: in flight beyond UV_THREADPOOL_SIZE. An estimate: DNS lookups and file work share the pool.',
    [],
    () => [{ labels: {}, value: Math.max(0, passwordHasher.inFlight() - config.threadPoolSize) }],
  );
  const access = createAccessService({ direct, policy: config.tokens });
  const userMetadata = createUserMetadataService({ db, provider: config.database.provider, outbox, clock, tokenKeys: config.tokens.metadataKeys });
  // Counts sign-ins and refreshes (sessions) and created and deleted users (users) through hooks, for userStats.
  const statistics = createStatisticsService({ direct, provider: config.database.provider, clock, logger: deps.logger });
  const signIn = createSignIn({ db, direct, config, clock, outbox, key, access, userMetadata, activity: statistics.recordActivity });
  const { sessions } = signIn;
  // Credential changes by users themselves need a recent authentication of their session.
  const reauth = sessions;
  const backupCodes = createBackupCodeService({ db, outbox, clock, key, count: config.backupCodes.count, reauth });
  const passwords = createPasswordService({ outbox, clock, lockout, codes, hasher: passwordHasher, policy: config.passwords, delivery, sessions });
  const totp = createTotpService({ db, direct, outbox, clock, key, lockout, backupCodes, reauth, config: config.totp });
  const authMethods = createAuthMethodService({ outbox, reauth });
  const apiKeys = createApiKeyService({ db, direct, clock, outbox, bootstrapApiKey: config.bootstrapApiKey });
  const personalAccessTokens = createPersonalAccessTokenService({ db, direct, clock, outbox, reauth });
  const otpFactors = createOtpFactorService({ db, outbox, clock, codes, lockout, codeDelivery, reauth, authMethods });
  const contacts = createContactService({ outbox, clock, codes, lockout, codeDelivery, reauth, defaultPhoneRegion: config.otp.defaultPhoneRegion });
  // Before users: a new user gets the default GLOBAL roles in the transaction that creates it.
  const organizations = createOrganizationService({ db, provider: config.database.provider, outbox, clock, ownerPermission: config.organizations.ownerPermission });
  const roles = createRoleService({ db, provider: config.database.provider, outbox, clock, owners: organizations });
  const webhooks = createWebhookService({ db, clock, key, outbox, policy: config.webhooks, lookup: deps.webhookLookup, onQueued: deps.onWebhookDeliveriesQueued });
  // Before users: createUser registers with an intent through its hook.
  const identityProviders = createIdentityProviderService({
    db,
    provider: config.database.provider,
    outbox,
    clock,
    key,
    config: config.identityProviders,
    sessions,
    mfa: signIn.mfa,
    lockout,
    logger: deps.logger,
    fetch: deps.idpFetch,
    signIns,
  });
  const webauthn = createWebAuthnService({ db, config: config.webauthn, clock, outbox, lockout, codes, linkTtlSeconds: config.otp.ttlSeconds, codeDelivery, sessions, reauth, signIns });
  return {
    clock,
    outbox,
    lockout,
    codes,
    /** Sends codes by email or SMS: `delivery.send({ channel, to, template, params: { code, ttlSeconds }, locale })` (src/kernel/delivery/index.ts). */
    delivery,
    contacts,
    otpFactors,
    users: createUserService({
      db,
      direct,
      reader: deps.reader,
      provider: config.database.provider,
      outbox,
      clock,
      contacts,
      defaultPhoneRegion: config.otp.defaultPhoneRegion,
      onUserCreated: async (tx, userId, meta) => {
        await roles.grantDefaultRoles(tx, userId, meta);
        await statistics.countUserCreated(tx);
      },
      // Leaves its organizations as removeMember does: the owner rule holds, and member_removed is recorded.
      onUserDeleting: (tx, userId, meta) => organizations.removeMembershipsOfDeletedUser(tx, userId, meta),
      onUserDeleted: (tx) => statistics.countUserDeleted(tx),
      metadata: userMetadata,
      idpRegistration: identityProviders.registration,
    }),
    /** userStats, and the active days and user tallies it reads. */
    statistics,
    /** Users' public, private and unsafe metadata (updateUserMetadata), and its access-token claims. */
    userMetadata,
    webhooks,
    /** Single-use links to the webhook portal, and what their holders may see and do there. */
    webhookPortal: createWebhookPortalService({ db, clock, outbox, webhooks, publicUrl: config.publicUrl }),
    /** Streams behind the userEvents, userStateChanged and organizationEvents subscriptions. */
    events: createEventStreams({
      db,
      direct,
      pubsub: deps.pubsub ?? createMemoryPubSub(deps.logger),
      relay: deps.relay ?? { position: () => undefined, reach: async () => undefined },
      bufferSize: config.events.subscriptionBuffer,
    }),
    apiKeys,
    /** Users' own scoped tokens for scripts (Authorization: Bearer pat_…). */
    personalAccessTokens,
    /** Permission checks (`can`, `effectivePermissions`) and the organization and role claims of access tokens. */
    access,
    /** How a token becomes a caller: access tokens, API keys, personal access tokens, then the bootstrap key (kernel/auth.ts). */
    authStrategies: [
      accessTokenStrategy(sessions),
      apiKeyStrategy(apiKeys),
      personalAccessTokenStrategy(personalAccessTokens),
      bootstrapKeyStrategy(apiKeys, config.bootstrapApiKey !== undefined),
    ],
    webauthn,
    passwordHasher,
    passwords,
    backupCodes,
    totp,
    authMethods,
    ...signIn,
    /** Roles and permissions: the catalog, users' GLOBAL roles, defaults (organizations/roles.ts). */
    roles,
    // Sign-in and each credential check in a span of its own (with tracing on).
    login: tracedMethods(
      'sign-in',
      createLoginService({
        db,
        clock,
        outbox,
        sessions: signIn.sessions,
        mfa: signIn.mfa,
        identifierLimiter: deps.loginIdentifierLimiter ?? null,
        signIns,
        strategies: tracedStrategies({
          password: passwords,
          secondFactors: [totpStrategy(totp), otpStrategy(otpFactors), passkeyStrategy(webauthn)],
        }),
        authMethods,
      }),
      ['login', 'completeMfaLogin', 'completeMfaLoginWithPasskey', 'reauthenticate', 'sendMfaOtp'],
    ),
    /** External identity providers: their settings, intents (sign-in, registration, linking) and users' links. */
    identityProviders,
    /** Organizations and their members (the owner rule). */
    organizations,
    /** Invitations to organizations: created, accepted with their token, revoked, expired by the leader. */
    organizationInvitations: createInvitationService({ db, outbox, clock, delivery, organizations, linkUrl: config.organizations.invitationLinkUrl }),
    /** Email domains of organizations, and joining by a verified email at one. */
    organizationDomains: createDomainService({ db, outbox, clock, organizations }),
  };
}

/** http://HOST:PORT as configured: the default of the addresses the gateway names itself by. */
function listeningUrl(config: Readonly<Config>): string {
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

/** Signing keys, sessions and MFA challenges (sign-in), built from config.tokens. */
function createSignIn(deps: {
  db: Db;
  direct: DirectSql;
  config: Readonly<Config>;
  clock: Clock;
  outbox: Outbox;
  key: Buffer;
  access: AccessService;
  userMetadata: UserMetadataService;
  activity: ActivityHook;
}) {
  const { db, direct, config, clock, outbox, key, access, userMetadata, activity } = deps;
  const { tokens } = config;
  const signingKeys = createSigningKeyService({ db, direct, clock, key, policy: { alg: tokens.signingAlg, accessTtlSeconds: tokens.accessTtlSeconds } });
  // A stable default (not the bound port), so every instance behind a load balancer issues the same iss.
  const issuer = tokens.issuer ?? listeningUrl(config);
  const sessions = createSessionService({
    db,
    direct,
    clock,
    outbox,
    signingKeys,
    // Organization and role claims, then the public metadata keys configured for tokens.
    claims: composeClaims(access.tokenClaims, userMetadata.tokenClaims),
    activity,
    policy: {
      issuer,
      audience: tokens.audience,
      accessTtlSeconds: tokens.accessTtlSeconds,
      refreshTtlSeconds: tokens.refreshTtlSeconds,
      reauthMaxAgeSeconds: tokens.reauthMaxAgeSeconds,
    },
  });
  return { signingKeys, sessions, mfa: createMfaService({ db, direct, clock, ttlSeconds: tokens.mfaTtlSeconds }) };
}
