import { randomBytes, randomFillSync } from 'node:crypto';
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
  Organization: 'org',
  Membership: 'mem',
  Role: 'rol',
  Permission: 'prm',
  OrganizationInvitation: 'inv',
  OrganizationDomain: 'dom',
  WebhookPortalLink: 'whl',
  IdentityProvider: 'idp',
  IdpLink: 'idl',
  IdpIntent: 'idi',
  PersonalAccessToken: 'pt',
} as const;

export type IdKind = keyof typeof idPrefixes;

/**
 * ulid draws one random number per character, and by default asks the
 * system for one byte each time (16 calls per id, on every recorded event).
 * Bytes drawn from a pool filled 4 KiB at a time are just as random; a byte
 * divided by 256 picks each of ulid's 32 characters equally often.
 */
const pool = Buffer.alloc(4096);
let pooled = pool.length;
function pooledRandom(): number {
  if (pooled === pool.length) {
    randomFillSync(pool);
    pooled = 0;
  }
  return pool[pooled++] / 256;
}

export function newId(kind: IdKind): string {
  return `${idPrefixes[kind]}_${ulid(undefined, pooledRandom).toLowerCase()}`;
}

/**
 * A unique id for a token that is not a stored object (an access token's
 * `jti`): a bare ULID, so no global-id prefix suggests it can be looked up.
 */
export function newTokenId(): string {
  return ulid(undefined, pooledRandom);
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
