import type { AuthMethodKind } from '../../kernel/db/models.js';
import { newId } from '../../kernel/ids.js';

/**
 * Auth method ids carry their kind after the `am_` prefix (`am_totp_…`), so
 * `node(id:)` knows which GraphQL type to load without a database round trip.
 */
export const authMethodTypes: Record<AuthMethodKind, { tag: string; typename: string }> = {
  PASSWORD: { tag: 'pwd', typename: 'PasswordMethod' },
  TOTP: { tag: 'totp', typename: 'TotpMethod' },
  BACKUP_CODES: { tag: 'bkp', typename: 'BackupCodesMethod' },
  OTP_SMS: { tag: 'sms', typename: 'OtpSmsMethod' },
  OTP_EMAIL: { tag: 'eml', typename: 'OtpEmailMethod' },
  PASSKEY: { tag: 'pk', typename: 'PasskeyMethod' },
  U2F: { tag: 'u2f', typename: 'U2fMethod' },
};

/** The unique `slot` of a singleton method ("<userId>:<kind>"): the database itself refuses a second one. */
export function authMethodSlot(userId: string, kind: AuthMethodKind): string {
  return `${userId}:${kind}`;
}

/**
 * Kinds as quoted SQL literals (`'TOTP', 'PASSKEY'`), for statements that
 * name them in an `IN` list. Only known kinds pass, so nothing else is ever
 * spliced into SQL.
 */
export function kindLiterals(kinds: readonly AuthMethodKind[]): string {
  if (!kinds.length || kinds.some((k) => !(k in authMethodTypes))) throw new Error(`not auth method kinds: ${kinds.join(', ')}`);
  return kinds.map((k) => `'${k}'`).join(', ');
}

export function newAuthMethodId(kind: AuthMethodKind): string {
  return newId('AuthMethod').replace(/^am_/, `am_${authMethodTypes[kind].tag}_`);
}

export function authMethodTypeForId(id: string): string {
  const tag = id.split('_')[1];
  const entry = Object.values(authMethodTypes).find((t) => t.tag === tag);
  return entry?.typename ?? 'AuthMethod';
}
