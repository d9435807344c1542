/**
 * Email addresses and phone numbers, and proof that the user owns them.
 * Setting an address either sends a code (SEND_CODE), hands the code to the
 * caller (RETURN_CODE, for custom flows), or trusts the caller (MARK_VERIFIED,
 * an admin import). A changed address is unverified until a code issued for
 * that very address is checked; codes count toward the code lockout policy.
 * createUser and updateUser write addresses by the same rules (planAddress).
 */
import type { Tx } from '../../kernel/db/client.js';
import { isUniqueViolation } from '../../kernel/db/client.js';
import type { User } from '../../kernel/db/models.js';
import type { Channel, TemplateName } from '../../kernel/delivery/index.js';
import type { EventType } from '../catalog.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Outbox } from '../catalog.js';
import type { Clock } from '../../kernel/clock.js';
import { localeOf, type CodeDelivery } from '../codes/code-delivery.js';
import { AlreadyExistsError, assertThat, DeliveryFailedError, InvalidInputError, InvalidStateError, UserNotFoundError } from '../../kernel/errors.js';
import type { LockoutService } from '../lockout/service.js';
import type { ReauthGuard } from '../sessions/service.js';
import { maskEmail, maskPhone } from '../../kernel/masking.js';
import type { OneTimeCodeService } from '../codes/one-time-codes.js';
import { normalizeEmail, normalizePhone, phoneRegion } from './input.js';
import { publicUser } from './events.js';
import { createUserStore, type ContactField, type ProfileColumns } from './store.js';

export type Verification = 'SEND_CODE' | 'RETURN_CODE' | 'MARK_VERIFIED';

export interface SetContactResult {
  user: User;
  /** The code, only with RETURN_CODE. */
  code: string | null;
  /** When the issued code expires; null when none was issued. */
  expiresAt: Date | null;
  /** The masked address a code was sent to; null when nothing was sent. */
  sentTo: string | null;
}

/**
 * One address written by createUser or updateUser, with the same rules as
 * setEmail/setPhone, split around the writer's transaction.
 */
export interface AddressPlan {
  /** The verification time to store with the address (null: unverified). */
  verifiedAt: Date | null;
  /** Inside the writer's transaction, after the user row is written: records user.*_verified when this write verified the address. */
  recordIn(tx: Tx, user: User, meta: RequestMeta): Promise<void>;
  /** After commit: issues the code (sent or returned), or withdraws a pending one; nothing without a verification choice. */
  settle(user: User): Promise<SetContactResult>;
  /** Whether settle delivers a message (and so may fail with DeliveryFailedError). */
  sends: boolean;
}

/** What differs between email and phone; the flows are the same. */
interface ContactKind {
  label: 'email address' | 'phone number';
  purpose: 'verify_email' | 'verify_phone';
  channel: Channel;
  template: TemplateName;
  /** Which address columns the store writes. */
  field: ContactField;
  /** Columns for a new address, and the key a code is bound to; `country` reads a national phone number. */
  parse(raw: string, country?: string | null): { columns: Pick<ProfileColumns, 'email' | 'emailNormalized' | 'phone'>; key: string };
  /** The key of the user's current address. */
  keyOf(user: User): string | null;
  /** Where to send: the stored form of the address. */
  addressOf(user: User): string | null;
  verifiedAtOf(user: User): Date | null;
  mask(address: string | null): string | null;
  events: { changed: EventType; verified: EventType };
  /** InvalidStateError.state when there is no address, and when it is already verified. */
  states: { none: string; verified: string };
}

export type ContactService = ReturnType<typeof createContactService>;

export function createContactService(deps: {
  outbox: Outbox;
  clock: Clock;
  codes: OneTimeCodeService;
  lockout: LockoutService;
  codeDelivery: CodeDelivery;
  reauth: ReauthGuard;
  defaultPhoneRegion?: string;
}) {
  const { outbox, clock, codes, lockout, codeDelivery } = deps;
  const store = createUserStore();

  const email: ContactKind = {
    label: 'email address',
    purpose: 'verify_email',
    channel: 'email',
    template: 'verify_email',
    field: 'email',
    parse(raw) {
      const { email: value, emailNormalized } = normalizeEmail(raw);
      return { columns: { email: value, emailNormalized }, key: emailNormalized };
    },
    keyOf: (u) => u.emailNormalized,
    addressOf: (u) => u.email,
    verifiedAtOf: (u) => u.emailVerifiedAt,
    mask: maskEmail,
    events: { changed: 'user.email_changed', verified: 'user.email_verified' },
    states: { none: 'NO_EMAIL', verified: 'EMAIL_VERIFIED' },
  };

  const phone: ContactKind = {
    label: 'phone number',
    purpose: 'verify_phone',
    channel: 'sms',
    template: 'verify_phone',
    field: 'phone',
    parse(raw, country) {
      const e164 = normalizePhone(raw, phoneRegion(country, 'country', deps.defaultPhoneRegion));
      return { columns: { phone: e164 }, key: e164 };
    },
    keyOf: (u) => u.phone,
    addressOf: (u) => u.phone,
    verifiedAtOf: (u) => u.phoneVerifiedAt,
    mask: maskPhone,
    events: { changed: 'user.phone_changed', verified: 'user.phone_verified' },
    states: { none: 'NO_PHONE', verified: 'PHONE_VERIFIED' },
  };

  async function inTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    try {
      return await outbox.transaction(fn);
    } catch (error) {
      // Only emailNormalized is unique among the columns written here.
      if (isUniqueViolation(error)) throw new AlreadyExistsError('email');
      throw error;
    }
  }

  /**
   * The rules of writing an address: a different address is new and unverified,
   * the same one keeps its state, MARK_VERIFIED verifies it. `verification`
   * null (createUser and updateUser without a choice) issues no code.
   */
  function planAddress(kind: ContactKind, before: User | null, key: string, verification: Verification | null, now: Date): AddressPlan {
    const verifiedBefore = before && kind.keyOf(before) === key ? kind.verifiedAtOf(before) : null;
    const verifiedAt = verification === 'MARK_VERIFIED' ? (verifiedBefore ?? now) : verifiedBefore;
    const nothing = (user: User): SetContactResult => ({ user, code: null, expiresAt: null, sentTo: null });
    return {
      verifiedAt,
      sends: verification === 'SEND_CODE' && !verifiedBefore,
      async recordIn(tx, user, meta) {
        if (verifiedAt && !verifiedBefore) {
          await outbox.record(tx, { type: kind.events.verified, userId: user.id, data: { user: publicUser(user), method: 'admin' } }, meta);
        }
      },
      async settle(user) {
        if (verification === null) return nothing(user);
        // A pending code for a previous address (or for this one, now verified) must not linger.
        if (verification === 'MARK_VERIFIED' || verifiedBefore) {
          await codes.revokeCode(user.id, kind.purpose);
          return nothing(user);
        }
        // Sending honours the resend cooldown too, so repeated sets cannot flood an inbox or pump SMS to
        // many numbers; a returned code sends nothing. Within the cooldown the address stays saved, unverified.
        const returnCode = verification === 'RETURN_CODE';
        const issued = await codeDelivery.issueAndDeliver({
          userId: user.id,
          purpose: kind.purpose,
          target: key,
          channel: kind.channel,
          to: kind.addressOf(user) ?? key,
          template: kind.template,
          locale: localeOf(user),
          returnCode,
          ignoreCooldown: returnCode,
        });
        return { user, code: issued.code, expiresAt: issued.expiresAt, sentTo: returnCode ? null : kind.mask(kind.addressOf(user)) };
      },
    };
  }

  async function setContact(kind: ContactKind, input: { userId: string; value: string; country?: string | null; verification: Verification }, meta: RequestMeta): Promise<SetContactResult> {
    // The schema allows users only SEND_CODE on themselves; asserted here too for paths that skip it.
    assertThat(meta.actor.type !== 'user' || input.verification === 'SEND_CODE', () => new InvalidInputError('verification', 'Only SEND_CODE is allowed when acting on yourself.'));
    // An email or phone receives reset and sign-in codes: changing it is a credential change.
    await deps.reauth.assertRecentAuthentication(meta);
    const { columns, key } = kind.parse(input.value, input.country);
    const { user, plan } = await inTransaction(async (tx) => {
      const before = await tx.user.findUnique({ where: { id: input.userId } });
      if (!before) throw new UserNotFoundError(input.userId);
      const now = clock.now();
      const plan = planAddress(kind, before, key, input.verification, now);
      const user = await store.saveUserAddress(tx, input.userId, kind.field, columns, plan.verifiedAt, now);
      if (kind.addressOf(before) !== kind.addressOf(user)) {
        await outbox.record(tx, { type: kind.events.changed, userId: user.id, data: { user: publicUser(user), verification: input.verification } }, meta);
      }
      await plan.recordIn(tx, user, meta);
      return { user, plan };
    });
    return plan.settle(user);
  }

  /** Throws InvalidStateError unless the user has an address of this kind still to verify. */
  function assertUnverifiedAddress(kind: ContactKind, user: User): void {
    if (!kind.keyOf(user) || !kind.addressOf(user)) throw new InvalidStateError(`The user has no ${kind.label}.`, kind.states.none);
    if (kind.verifiedAtOf(user)) throw new InvalidStateError(`The ${kind.label} is already verified.`, kind.states.verified);
  }

  async function verifyContact(kind: ContactKind, input: { userId: string; code: string }, meta: RequestMeta): Promise<User> {
    // With nothing to verify no code can be right: a mistaken call, answered before an attempt is
    // reserved, so it never spends the code lockout budget (which TOTP and sign-in codes share).
    assertUnverifiedAddress(kind, await lockout.assertCanAct(input.userId));
    const { target } = await codeDelivery.checkCode({ userId: input.userId, purpose: kind.purpose, code: input.code, expectedTarget: kind.keyOf, meta });
    return inTransaction(async (tx) => {
      const now = clock.now();
      // Conditional on the address: a change racing with this check wins, and stays unverified.
      const user = await store.markUserAddressVerified(tx, input.userId, kind.field, target, now);
      if (!user) {
        const exists = await tx.user.count({ where: { id: input.userId } });
        if (!exists) throw new UserNotFoundError(input.userId);
        throw new InvalidStateError(`The ${kind.label} changed while it was being verified; request a new code.`);
      }
      await outbox.record(tx, { type: kind.events.verified, userId: user.id, data: { user: publicUser(user), method: 'code' } }, meta);
      return user;
    });
  }

  async function resendContactCode(kind: ContactKind, input: { userId: string }): Promise<SetContactResult> {
    const user = await lockout.assertCanAct(input.userId);
    assertUnverifiedAddress(kind, user);
    const key = kind.keyOf(user)!;
    const address = kind.addressOf(user)!;
    const issued = await codeDelivery.issueAndDeliver({
      userId: user.id,
      purpose: kind.purpose,
      target: key,
      channel: kind.channel,
      to: address,
      template: kind.template,
      locale: localeOf(user),
      returnCode: false,
      ignoreCooldown: false,
    });
    return { user, code: null, expiresAt: issued.expiresAt, sentTo: kind.mask(address) };
  }

  /**
   * For createUser and updateUser: the plans of the addresses they write
   * (`key`: the normalised email, or the E.164 phone), and settling them
   * after commit. Addresses that send go first, so a failed delivery leaves
   * no returned code that nobody will see; the failure carries the user's id.
   */
  const addressWrites = {
    plan: (field: ContactField, before: User | null, key: string, verification: Verification | null, now: Date) =>
      planAddress(field === 'email' ? email : phone, before, key, verification, now),
    async settle(user: User, plans: { email: AddressPlan | null; phone: AddressPlan | null }): Promise<{ email: SetContactResult | null; phone: SetContactResult | null }> {
      const order = (['email', 'phone'] as const).filter((f) => plans[f]).sort((a, b) => Number(plans[b]!.sends) - Number(plans[a]!.sends));
      const results: { email: SetContactResult | null; phone: SetContactResult | null } = { email: null, phone: null };
      for (const field of order) {
        try {
          results[field] = await plans[field]!.settle(user);
        } catch (error) {
          if (error instanceof DeliveryFailedError) throw new DeliveryFailedError(error.channel, user.id);
          throw error;
        }
      }
      return results;
    },
  };

  return {
    addressWrites,
    /**
     * Sets the user's email. A different address becomes unverified and, unless
     * MARK_VERIFIED, gets a verification code (sent, or returned with RETURN_CODE).
     * Throws UserNotFoundError, InvalidInputError, AlreadyExistsError; and, after saving the
     * address unverified, DeliveryFailedError or ResendCooldownError:
     * resendEmailCode then sends the code.
     */
    setEmail: (input: { userId: string; email: string; verification: Verification }, meta: RequestMeta) =>
      setContact(email, { userId: input.userId, value: input.email, verification: input.verification }, meta),
    /**
     * Like setEmail for the phone; the number is stored in E.164. A national number is read in
     * `country` (ISO 3166-1 alpha-2; InvalidInputError('country') when unknown), else the default region.
     */
    setPhone: (input: { userId: string; phone: string; country?: string | null; verification: Verification }, meta: RequestMeta) =>
      setContact(phone, { userId: input.userId, value: input.phone, country: input.country, verification: input.verification }, meta),
    /**
     * Checks an email verification code. Throws IncorrectCodeError, CodeExpiredError,
     * CodeAlreadyUsedError, TooManyAttemptsError, UserNotFoundError, UserLockedError, UserInactiveError;
     * InvalidStateError (NO_EMAIL, EMAIL_VERIFIED) when there is nothing to verify, without counting an attempt.
     */
    verifyEmail: (input: { userId: string; code: string }, meta: RequestMeta) => verifyContact(email, input, meta),
    verifyPhone: (input: { userId: string; code: string }, meta: RequestMeta) => verifyContact(phone, input, meta),
    /** Sends a fresh code for the unverified email; ResendCooldownError(retryAfter) within the cooldown. */
    resendEmailCode: (input: { userId: string }) => resendContactCode(email, input),
    resendPhoneCode: (input: { userId: string }) => resendContactCode(phone, input),
  };
}
