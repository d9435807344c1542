/**
 * The removal of an auth method: one payload for every kind, made by one
 * constructor, whichever path removed it (removeAuthMethod, or a shortcut
 * such as removeOtpSms).
 */
import { z } from 'zod';
import type { AuthMethodKind } from '../../kernel/db/models.js';
import { defineEvents } from '../../kernel/events/define.js';
import type { CatalogEvent } from '../catalog.js';

const removed = <const K extends [AuthMethodKind, ...AuthMethodKind[]]>(...kinds: K) => z.object({ authMethodId: z.string(), kind: z.enum(kinds) });

export const authMethodEvents = defineEvents({
  'user.password_removed': removed('PASSWORD'),
  'user.totp_removed': removed('TOTP'),
  'user.backup_codes_removed': removed('BACKUP_CODES'),
  'user.otp_sms_removed': removed('OTP_SMS'),
  'user.otp_email_removed': removed('OTP_EMAIL'),
  // Security keys are WebAuthn credentials too; `kind` tells them apart.
  'user.passkey_removed': removed('PASSKEY', 'U2F'),
});

const removalTypes = {
  PASSWORD: 'user.password_removed',
  TOTP: 'user.totp_removed',
  BACKUP_CODES: 'user.backup_codes_removed',
  OTP_SMS: 'user.otp_sms_removed',
  OTP_EMAIL: 'user.otp_email_removed',
  PASSKEY: 'user.passkey_removed',
  U2F: 'user.passkey_removed',
} as const satisfies Record<AuthMethodKind, keyof typeof authMethodEvents>;

/** The event a removal records. (The map ties each kind to its type; TypeScript cannot follow it, the outbox's check does.) */
export function authMethodRemoved(method: { id: string; userId: string; kind: AuthMethodKind }): CatalogEvent {
  return { type: removalTypes[method.kind], userId: method.userId, data: { authMethodId: method.id, kind: method.kind } } as CatalogEvent;
}
