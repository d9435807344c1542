import { randomBytes } from 'node:crypto';
import { ulid } from 'ulid';

/**
 * Public ids are prefixed and double as Relay global ids (`usr_…`), so a log
 * line or support ticket says what an id names. ULIDs sort by creation time.
 */
export const idPrefixes = {
  User: 'usr',
  AuthMethod: 'am',
  WebhookApp: 'wha',
  UserEvent: 'evt',
  ApiKey: 'key',
  WebhookDelivery: 'whd',
  Session: 'ses',
  BackupCode: 'bc',
  OneTimeCode: 'otc',
  WebhookAttempt: 'wht',
  Challenge: 'chl',
  RefreshToken: 'rt',
  MfaChallenge: 'mfa',
  SigningKey: 'sk',
} as const;

export type IdKind = keyof typeof idPrefixes;

export function newId(kind: IdKind): string {
  return `${idPrefixes[kind]}_${ulid().toLowerCase()}`;
}

/** The kind an id names, from its prefix; undefined for anything else. */
export function kindOfId(id: string): IdKind | undefined {
  const prefix = id.slice(0, id.indexOf('_'));
  return (Object.keys(idPrefixes) as IdKind[]).find((k) => idPrefixes[k] === prefix);
}

/** A random secret, URL-safe, with `bytes` of entropy. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
