/**
 * Passkeys and security keys (WebAuthn, https://www.w3.org/TR/webauthn-3/),
 * built on @simplewebauthn/server.
 *
 * Challenges live in the database (WebAuthnChallenge), not in a cookie or a
 * process: any gateway instance can finish a ceremony another one started.
 * A challenge is bound to its purpose (and user, when known), expires after
 * `challengeTtlSeconds`, and is consumed by a conditional update before the
 * response is checked, so a response can be verified at most once, even by
 * two racing requests, and a failed attempt burns its challenge.
 *
 * PASSKEY: a discoverable credential with user verification (resident key
 * required). U2F: a cross-platform, non-discoverable security key; user
 * verification is not demanded from it.
 *
 * Signature counters (§6.1.1): a signed counter that does not move forward,
 * when either side is non-zero, suggests a cloned authenticator. It is
 * refused and recorded (`user.passkey_counter_regressed`), but only after the
 * signature checked out, so forged responses cannot flood the event log.
 */
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
  VerifiedRegistrationResponse,
} from '@simplewebauthn/server';
import { z } from 'zod';
import type { Config } from '../../config.js';
import type { Db } from '../../kernel/db/client.js';
import { isUniqueViolation } from '../../kernel/db/client.js';
import type { AuthMethod, User, WebAuthnChallenge } from '../../kernel/db/models.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Outbox } from '../catalog.js';
import type { Clock } from '../../kernel/clock.js';
import { randomReadableCode } from '../../kernel/crypto.js';
import { failureLabel, type Counter } from '../../kernel/metrics.js';
import { AlreadyExistsError, InvalidInputError, InvalidStateError } from '../../kernel/errors.js';
import { WebAuthnVerificationError, type WebAuthnFailureReason } from './errors.js';
import type { LockoutService } from '../lockout/service.js';
import type { OneTimeCodeService } from '../codes/one-time-codes.js';
import { localeOf, type CodeDelivery } from '../codes/code-delivery.js';
import { EmailNotVerifiedError } from '../users/errors.js';
import { maskEmail, maskPhone } from '../../kernel/masking.js';
import type { ReauthGuard, SessionService, SessionTokens } from '../sessions/service.js';
import { createPasskeyStore, type WebAuthnData } from './store.js';

export type WebAuthnKind = 'PASSKEY' | 'U2F';
const WEBAUTHN_KINDS: WebAuthnKind[] = ['PASSKEY', 'U2F'];

/** The one-time code purpose of registration links. */
export const PASSKEY_REGISTRATION_PURPOSE = 'passkey_registration';
/** Registration link codes: 20 Crockford base32 characters, 100 bits. */
const LINK_CODE_LENGTH = 20;
const NAME_MAX = 100;
/** ES256, EdDSA, RS256: what authenticators commonly offer. */
const ALGORITHMS = [-7, -8, -257];

export type { WebAuthnData };

interface ChallengeData {
  authenticatorType?: WebAuthnKind;
  /** Started with a registration link code (anonymous caller). */
  viaCode?: boolean;
  userVerification?: 'required' | 'preferred' | 'discouraged';
}

type Purpose = 'registration' | 'authentication';

/** The shape both ceremonies share; @simplewebauthn/server checks the rest. */
const credentialShape = z.object({
  id: z.string().min(1).max(1024),
  rawId: z.string().min(1).max(1024),
  type: z.literal('public-key'),
  response: z.object({ clientDataJSON: z.string().min(1).max(16_384) }).passthrough(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
}).passthrough();
const registrationShape = credentialShape.extend({
  response: z.object({ clientDataJSON: z.string().min(1).max(16_384), attestationObject: z.string().min(1).max(65_536), transports: z.array(z.string()).optional() }).passthrough(),
});
const authenticationShape = credentialShape.extend({
  response: z
    .object({ clientDataJSON: z.string().min(1).max(16_384), authenticatorData: z.string().min(1).max(16_384), signature: z.string().min(1).max(4096), userHandle: z.string().max(1024).optional().nullable() })
    .passthrough(),
});

/** The public facts about a WebAuthn method, for event payloads. */
export function publicWebAuthnMethod(m: AuthMethod) {
  const data = (m.data ?? {}) as Partial<WebAuthnData>;
  return { id: m.id, kind: m.kind as 'PASSKEY' | 'U2F', name: m.name, aaguid: data.aaguid ?? null, deviceType: data.deviceType ?? null, backedUp: Boolean(data.backedUp) };
}

/** Maps a library refusal to a stable reason; the library's message (which names expected values) stays server-side. */
export function classifyWebAuthnError(error: unknown): WebAuthnFailureReason {
  const message = error instanceof Error ? error.message : String(error);
  if (/origin/i.test(message)) return 'ORIGIN_MISMATCH';
  if (/RP ID/i.test(message)) return 'RP_ID_MISMATCH';
  if (/user verification/i.test(message)) return 'USER_VERIFICATION_REQUIRED';
  return 'MALFORMED_RESPONSE';
}

/** Runs a library check; its refusals become WebAuthnVerificationError with a stable reason. */
/** @simplewebauthn/server (about 8 MB resident) is loaded by the first passkey operation, not at start. */
const webauthn = () => import('@simplewebauthn/server');

async function checked<T>(check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    throw new WebAuthnVerificationError(classifyWebAuthnError(error));
  }
}

function parse<T extends z.ZodType>(shape: T, response: unknown): z.infer<T> {
  const result = shape.safeParse(response);
  if (!result.success) throw new WebAuthnVerificationError('MALFORMED_RESPONSE');
  return result.data;
}

/** The challenge the client signed, read from clientDataJSON (verified later by the library). */
function clientChallenge(clientDataJSON: string): string {
  try {
    const data = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as { challenge?: unknown };
    if (typeof data.challenge === 'string' && data.challenge.length > 0 && data.challenge.length <= 512) return data.challenge;
  } catch {
    // fall through
  }
  throw new WebAuthnVerificationError('MALFORMED_RESPONSE');
}

/** What the credential keeps in AuthMethod.data, from a verified registration. */
function toWebAuthnData(info: NonNullable<VerifiedRegistrationResponse['registrationInfo']>, response: RegistrationResponseJSON): WebAuthnData {
  const credProps = (response.clientExtensionResults as { credProps?: { rk?: boolean } } | undefined)?.credProps;
  return {
    publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
    transports: (info.credential.transports ?? response.response.transports ?? []) as AuthenticatorTransport[],
    aaguid: info.aaguid,
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    attestationFormat: info.fmt,
    discoverable: typeof credProps?.rk === 'boolean' ? credProps.rk : null,
  };
}

function cleanName(name: string | null | undefined, kind: WebAuthnKind): string {
  const trimmed = name?.trim();
  if (!trimmed) return kind === 'PASSKEY' ? 'Passkey' : 'Security key';
  if (trimmed.length > NAME_MAX) throw new InvalidInputError('name', `The name is longer than ${NAME_MAX} characters.`);
  return trimmed;
}

export interface WebAuthnDeps {
  db: Db;
  config: Readonly<Config['webauthn']>;
  clock: Clock;
  outbox: Outbox;
  lockout: LockoutService;
  codes: OneTimeCodeService;
  /** Lifetime of registration link codes. */
  linkTtlSeconds: number;
  /** Sends registration links. */
  codeDelivery: CodeDelivery;
  /** Opens the session a passkey sign-in yields (absent: signInWithPasskey only verifies). */
  sessions?: Pick<SessionService, 'createSession'>;
  reauth: ReauthGuard;
  /** Counts passkey sign-ins by outcome (portcullis_sign_ins_total, method passkey). */
  signIns?: Counter<'method' | 'outcome'>;
}

/** A registration link: the configured template (`{code}`, `{userId}`) filled in, each value URL-encoded. */
export function registrationLink(template: string, code: string, userId: string): string {
  return template.replace(/\{code\}|\{userId\}/g, (p) => encodeURIComponent(p === '{code}' ? code : userId));
}

/** Where a registration link goes: the verified email, else the verified phone; null when neither. */
function linkRoute(user: User) {
  if (user.email && user.emailVerifiedAt) return { channel: 'email' as const, to: user.email, sentTo: maskEmail(user.email) };
  if (user.phone && user.phoneVerifiedAt) return { channel: 'sms' as const, to: user.phone, sentTo: maskPhone(user.phone) };
  return null;
}

export type WebAuthnService = ReturnType<typeof createWebAuthnService>;

export function createWebAuthnService(deps: WebAuthnDeps) {
  const { db, config, clock, outbox, lockout, codes } = deps;
  const store = createPasskeyStore({ db });
  const ttlMs = config.challengeTtlSeconds * 1000;

  async function storeChallenge(challenge: string, purpose: Purpose, userId: string | null, data: ChallengeData): Promise<Date> {
    const now = clock.now();
    // Expired challenges are swept once they are a full TTL past expiry (until then they still explain CHALLENGE_EXPIRED).
    await store.sweepExpiredChallenges(new Date(now.getTime() - ttlMs));
    const expiresAt = new Date(now.getTime() + ttlMs);
    await store.insertChallenge({ challenge, purpose, userId, data: data as object, expiresAt, now });
    return expiresAt;
  }

  /**
   * Consumes the challenge a response signed, once. `accept` decides whether
   * this row may be used on this path; a row it refuses is left untouched.
   */
  async function consumeChallenge(challenge: string, purpose: Purpose, accept: (row: WebAuthnChallenge) => boolean): Promise<WebAuthnChallenge> {
    const row = await store.findChallenge(challenge);
    if (!row || row.purpose !== purpose || !accept(row)) throw new WebAuthnVerificationError('CHALLENGE_NOT_FOUND');
    if (row.consumedAt) throw new WebAuthnVerificationError('CHALLENGE_ALREADY_USED');
    const now = clock.now();
    if (row.expiresAt <= now) throw new WebAuthnVerificationError('CHALLENGE_EXPIRED');
    if (!(await store.markChallengeConsumed(row.id, now))) throw new WebAuthnVerificationError('CHALLENGE_ALREADY_USED');
    return row;
  }

  async function credentialsOf(userId: string) {
    return db.authMethod.findMany({
      where: { userId, kind: { in: WEBAUTHN_KINDS }, verified: true, credentialId: { not: null } },
      orderBy: { createdAt: 'asc' },
    });
  }

  const transportsOf = (m: AuthMethod) => ((m.data as Partial<WebAuthnData> | null)?.transports ?? []) as AuthenticatorTransport[];

  async function startRegistration(user: User, kind: WebAuthnKind, viaCode: boolean) {
    const existing = await credentialsOf(user.id);
    const userName = user.email ?? user.username ?? user.id;
    const fullName = [user.givenName, user.familyName].filter(Boolean).join(' ');
    const options = await (await webauthn()).generateRegistrationOptions({
      rpName: config.rpName,
      rpID: config.rpId,
      // The user handle is the opaque user id: it holds no personal data and lets a discoverable assertion name its user.
      userID: new TextEncoder().encode(user.id),
      userName,
      userDisplayName: user.displayName ?? (fullName || userName),
      timeout: ttlMs,
      attestationType: 'none',
      excludeCredentials: existing.map((m) => ({ id: m.credentialId as string, transports: transportsOf(m) })),
      authenticatorSelection:
        kind === 'PASSKEY'
          ? { residentKey: 'required', requireResidentKey: true, userVerification: 'required' }
          : { authenticatorAttachment: 'cross-platform', residentKey: 'discouraged', requireResidentKey: false, userVerification: 'discouraged' },
      preferredAuthenticatorType: kind === 'U2F' ? 'securityKey' : undefined,
      extensions: { credProps: true } as never,
      supportedAlgorithmIDs: ALGORITHMS,
    });
    const expiresAt = await storeChallenge(options.challenge, 'registration', user.id, { authenticatorType: kind, viaCode });
    return { options, expiresAt };
  }

  // Registration, in its phases: parse → consume the challenge → verify with the library → persist.

  /** The registration challenge this response signed, consumed; only one this user started (by link, on the link path). */
  async function consumeRegistrationChallenge(response: RegistrationResponseJSON, user: User, viaCode: boolean): Promise<WebAuthnChallenge> {
    return consumeChallenge(clientChallenge(response.response.clientDataJSON), 'registration', (row) => {
      const data = (row.data ?? {}) as ChallengeData;
      // An anonymous (link) registration may only finish a ceremony that a link started.
      return row.userId === user.id && (!viaCode || data.viaCode === true);
    });
  }

  /** Checks an attestation against its challenge; refusals become WebAuthnVerificationError. */
  async function verifyAttestation(response: RegistrationResponseJSON, challenge: WebAuthnChallenge, kind: WebAuthnKind) {
    const { verifyRegistrationResponse } = await webauthn();
    const verification = await checked(() =>
      verifyRegistrationResponse({
        response,
        expectedChallenge: challenge.challenge,
        expectedOrigin: config.origins,
        expectedRPID: config.rpId,
        requireUserVerification: kind === 'PASSKEY',
        supportedAlgorithmIDs: ALGORITHMS,
      }),
    );
    if (!verification.verified) throw new WebAuthnVerificationError('SIGNATURE_INVALID');
    return verification.registrationInfo;
  }

  /** Stores the verified credential and records user.passkey_added; a credential registered before is AlreadyExistsError. */
  async function persistCredential(
    user: User,
    credential: { kind: WebAuthnKind; name: string; counter: number; credentialId: string; data: WebAuthnData },
    viaCode: boolean,
    meta: RequestMeta,
  ): Promise<AuthMethod> {
    try {
      return await outbox.transaction(async (tx) => {
        const created = await store.insertWebAuthnMethod(tx, { userId: user.id, ...credential, now: clock.now() });
        await outbox.record(tx, { type: 'user.passkey_added', userId: user.id, data: { authMethod: publicWebAuthnMethod(created), viaLink: viaCode } }, meta);
        return created;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AlreadyExistsError('credential');
      throw error;
    }
  }

  async function verifyRegistration(
    input: { userId: string; response: unknown; name?: string | null },
    meta: RequestMeta,
    viaCode: boolean,
  ): Promise<{ user: User; authMethod: AuthMethod }> {
    const response = parse(registrationShape, input.response) as unknown as RegistrationResponseJSON;
    const user = await lockout.assertCanAct(input.userId);
    const challenge = await consumeRegistrationChallenge(response, user, viaCode);
    const kind = ((challenge.data ?? {}) as ChallengeData).authenticatorType ?? 'PASSKEY';
    const name = cleanName(input.name, kind);
    const info = await verifyAttestation(response, challenge, kind);
    const authMethod = await persistCredential(
      user,
      { kind, name, counter: info.credential.counter, credentialId: info.credential.id, data: toWebAuthnData(info, response) },
      viaCode,
      meta,
    );
    return { user, authMethod };
  }

  async function recordCounterRegression(method: AuthMethod, received: number, meta: RequestMeta) {
    await outbox.append(
      {
        type: 'user.passkey_counter_regressed',
        userId: method.userId,
        data: { authMethod: publicWebAuthnMethod(method), storedCounter: method.counter ?? 0, receivedCounter: received },
      },
      meta,
    );
  }

  // Authentication, in its phases: parse → consume the challenge → find the credential → verify with the library → check the counter → persist.

  /** The credential an assertion names, if it may answer this challenge; CREDENTIAL_NOT_FOUND otherwise. */
  async function findAssertedCredential(response: AuthenticationResponseJSON, challenge: WebAuthnChallenge): Promise<AuthMethod> {
    const method = await db.authMethod.findUnique({ where: { credentialId: response.id } });
    if (!method || !WEBAUTHN_KINDS.includes(method.kind as WebAuthnKind) || !method.verified) throw new WebAuthnVerificationError('CREDENTIAL_NOT_FOUND');
    // A challenge issued for one user cannot be answered with another user's credential.
    if (challenge.userId && challenge.userId !== method.userId) throw new WebAuthnVerificationError('CREDENTIAL_NOT_FOUND');
    const userHandle = response.response.userHandle;
    if (userHandle && Buffer.from(userHandle, 'base64url').toString('utf8') !== method.userId) throw new WebAuthnVerificationError('CREDENTIAL_NOT_FOUND');
    return method;
  }

  /** Checks an assertion's signature against the stored public key; refusals become WebAuthnVerificationError. */
  async function verifyAssertion(response: AuthenticationResponseJSON, challenge: WebAuthnChallenge, method: AuthMethod) {
    const data = (method.data ?? {}) as unknown as WebAuthnData;
    const { verifyAuthenticationResponse } = await webauthn();
    const verification = await checked(() =>
      verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge.challenge,
        expectedOrigin: config.origins,
        expectedRPID: config.rpId,
        // Counter 0 here: the library would refuse a regression before checking the signature; we check it after.
        credential: { id: method.credentialId as string, publicKey: Buffer.from(data.publicKey, 'base64url'), counter: 0, transports: data.transports },
        requireUserVerification: method.kind === 'PASSKEY',
      }),
    );
    if (!verification.verified) throw new WebAuthnVerificationError('SIGNATURE_INVALID');
    return verification.authenticationInfo;
  }

  /**
   * Verifies an assertion: single-use challenge, origin, RP ID, signature,
   * user verification for passkeys, counter, user state. On success the
   * counter and lastUsedAt move and `user.passkey_verified` is recorded.
   * Opens no session (MFA step-up and back ends use it as a check).
   * Throws WebAuthnVerificationError, UserLockedError, UserInactiveError, UserNotFoundError.
   */
  async function verifyPasskeyAuthentication(input: { response: unknown }, meta: RequestMeta): Promise<{ user: User; authMethod: AuthMethod }> {
    const response = parse(authenticationShape, input.response) as unknown as AuthenticationResponseJSON;
    const challenge = await consumeChallenge(clientChallenge(response.response.clientDataJSON), 'authentication', () => true);
    const method = await findAssertedCredential(response, challenge);
    const info = await verifyAssertion(response, challenge, method);
    const stored = method.counter ?? 0;
    const received = info.newCounter;
    const usesCounter = received > 0 || stored > 0;
    if (usesCounter && received <= stored) {
      await recordCounterRegression(method, received, meta);
      throw new WebAuthnVerificationError('COUNTER_REGRESSED');
    }
    const user = await lockout.assertCanAct(method.userId);
    const data: WebAuthnData = { ...((method.data ?? {}) as unknown as WebAuthnData), backedUp: info.credentialBackedUp, deviceType: info.credentialDeviceType };
    const updated = await db.$transaction(async (tx) => {
      // Conditional on the counter still being below what we accept: of two racing assertions, one wins.
      const fresh = await store.advanceCounter(tx, method.id, { counter: received, monotonic: usesCounter, data, now: clock.now() });
      if (!fresh) return null;
      await outbox.record(tx, { type: 'user.passkey_verified', userId: user.id, data: { authMethod: publicWebAuthnMethod(fresh) } }, meta);
      return fresh;
    });
    if (!updated) {
      const current = await db.authMethod.findUnique({ where: { id: method.id } });
      if (!current) throw new WebAuthnVerificationError('CREDENTIAL_NOT_FOUND');
      await recordCounterRegression(current, received, meta);
      throw new WebAuthnVerificationError('COUNTER_REGRESSED');
    }
    outbox.committed();
    return { user, authMethod: updated };
  }

  return {
    /**
     * Creation options for navigator.credentials.create(), with a stored,
     * single-use challenge. Throws UserNotFoundError, UserLockedError, UserInactiveError.
     */
    async startPasskeyRegistration(input: { userId: string; authenticatorType?: WebAuthnKind | null }, meta: RequestMeta) {
      await deps.reauth.assertRecentAuthentication(meta);
      const user = await lockout.assertCanAct(input.userId);
      return startRegistration(user, input.authenticatorType ?? 'PASSKEY', false);
    },

    /**
     * Verifies an attestation for a challenge this user started and stores the
     * credential. Throws WebAuthnVerificationError, AlreadyExistsError('credential'),
     * InvalidInputError('name') and the user-state errors.
     */
    async verifyPasskeyRegistration(input: { userId: string; response: unknown; name?: string | null }, meta: RequestMeta) {
      await deps.reauth.assertRecentAuthentication(meta);
      return verifyRegistration(input, meta, false);
    },

    /**
     * Issues a registration link code (single use, expiring) that lets the user
     * register without signing in. With `returnCode` the code is returned for
     * the caller to deliver, replacing any earlier one at once. Otherwise the
     * gateway sends the link built from config.registrationLinkUrl, by email to a
     * verified email, else by SMS to a verified phone, honouring the resend
     * cooldown; a failed send withdraws the code. Throws InvalidStateError (no
     * link template configured), EmailNotVerifiedError (no verified address),
     * ResendCooldownError, DeliveryFailedError and the user-state errors.
     */
    async createPasskeyRegistrationLink(input: { userId: string; returnCode: boolean }): Promise<{ user: User; code: string | null; expiresAt: Date; sentTo: string | null }> {
      const user = await lockout.assertCanAct(input.userId);
      const issue = { userId: user.id, purpose: PASSKEY_REGISTRATION_PURPOSE, ttlSeconds: deps.linkTtlSeconds, generate: () => randomReadableCode(LINK_CODE_LENGTH) };
      if (input.returnCode) {
        const { code, expiresAt } = await codes.issueCode({ ...issue, ignoreCooldown: true });
        return { user, code, expiresAt, sentTo: null };
      }
      const template = config.registrationLinkUrl;
      if (!template) {
        throw new InvalidStateError('This gateway has no PORTCULLIS_PASSKEY_LINK_URL to build registration links from: set it, or set returnCode and deliver the code yourself.');
      }
      const route = linkRoute(user);
      if (!route) {
        throw new EmailNotVerifiedError('The user has neither a verified email address nor a verified phone number to send the link to: verify one, or set returnCode.');
      }
      const { expiresAt } = await deps.codeDelivery.issueAndDeliver({
        ...issue,
        target: null,
        channel: route.channel,
        to: route.to,
        template: 'passkey_registration_link',
        locale: localeOf(user),
        link: (code) => registrationLink(template, code, user.id),
        returnCode: false,
        ignoreCooldown: false,
      });
      return { user, code: null, expiresAt, sentTo: route.sentTo };
    },

    /**
     * Starts a registration with a link code instead of a signed-in caller. The
     * code is consumed here (its attempt limit stops guessing); the challenge it
     * yields is what authorises the matching verify call.
     * Throws IncorrectCodeError, CodeExpiredError, CodeAlreadyUsedError, TooManyAttemptsError and the user-state errors.
     */
    async startPasskeyRegistrationWithCode(input: { userId: string; code: string; authenticatorType?: WebAuthnKind | null }) {
      // The code first: for an unknown user it fails like a wrong code, so ids cannot be probed.
      await codes.consumeCode(input.userId, PASSKEY_REGISTRATION_PURPOSE, input.code);
      const user = await lockout.assertCanAct(input.userId);
      return startRegistration(user, input.authenticatorType ?? 'PASSKEY', true);
    },

    /** Finishes a registration that startPasskeyRegistrationWithCode began. */
    async verifyPasskeyRegistrationWithCode(input: { userId: string; response: unknown; name?: string | null }, meta: RequestMeta) {
      return verifyRegistration(input, meta, true);
    },

    /**
     * Request options for navigator.credentials.get(). With a user: their
     * credentials are listed (passkeys and security keys). Without: a
     * discoverable sign-in, where the authenticator names the credential.
     * Throws InvalidStateError when the user has no credential, and the user-state errors.
     */
    async startPasskeyAuthentication(input: { userId?: string | null }) {
      let allow: AuthMethod[] | undefined;
      let userVerification: ChallengeData['userVerification'] = 'required';
      if (input.userId) {
        const user = await lockout.assertCanAct(input.userId);
        allow = await credentialsOf(user.id);
        if (allow.length === 0) throw new InvalidStateError('The user has no passkey or security key.');
        // Security keys need not verify the user; passkeys must (checked per credential on verify).
        userVerification = allow.every((m) => m.kind === 'U2F') ? 'discouraged' : 'preferred';
      }
      const options: PublicKeyCredentialRequestOptionsJSON = await (await webauthn()).generateAuthenticationOptions({
        rpID: config.rpId,
        timeout: ttlMs,
        userVerification,
        allowCredentials: allow?.map((m) => ({ id: m.credentialId as string, transports: transportsOf(m) })),
      });
      const expiresAt = await storeChallenge(options.challenge, 'authentication', input.userId ?? null, { userVerification });
      return { options, expiresAt };
    },

    /** Checks an assertion without opening a session (see the function below). */
    verifyPasskeyAuthentication,

    /**
     * A passkey sign-in: verifies the assertion like verifyPasskeyAuthentication,
     * then opens a session (user.logged_in, method "passkey"), so a passkey
     * stands in for password plus second factor. Returns the tokens, or null
     * when this gateway was built without sessions.
     */
    async signInWithPasskey(input: { response: unknown }, meta: RequestMeta): Promise<{ user: User; authMethod: AuthMethod; tokens: SessionTokens | null }> {
      try {
        const verified = await verifyPasskeyAuthentication(input, meta);
        const tokens = deps.sessions ? await deps.sessions.createSession(verified.user.id, { ip: meta.ip, userAgent: meta.userAgent }, meta, 'passkey') : null;
        deps.signIns?.inc({ method: 'passkey', outcome: 'success' });
        return { ...verified, tokens };
      } catch (error) {
        deps.signIns?.inc({ method: 'passkey', outcome: failureLabel(error) });
        throw error;
      }
    },
  };
}

export type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON };
