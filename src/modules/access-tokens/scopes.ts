/**
 * The scopes of API keys and personal access tokens: what a key or token may
 * do. Every management field of the schema names the one scope it needs, at
 * the field (`authScopes: { admin: 'users:read' }`); a key holding `*` holds
 * them all. Personal access tokens use the same names, narrowed to what a user
 * may do on itself (PERSONAL_ACCESS_TOKEN_SCOPES).
 */
import { InvalidInputError } from '../../kernel/errors.js';

/** Every scope, with what it grants (docs/tokens-and-keys.md holds the same list with the operations). */
export const SCOPES = {
  'users:read': 'Read users: user, users, me, userStats, node for users, userStateChanged, their metadata; a personal access token reads its own user.',
  'users:write': 'Create, update, delete, lock and deactivate users; their metadata; set and verify their email and phone; a personal access token verifies its own contacts, writes its unsafe metadata and accepts invitations.',
  'credentials:write': 'Set, reset and change passwords; register and remove TOTP, backup codes, OTP factors and passkeys.',
  'credentials:verify': 'Check credentials: verifyPassword, verifyTotp, sendOtp, verifyOtp.',
  'sessions:write': 'Revoke sessions.',
  'signing_keys:manage': 'Rotate the key that signs access tokens.',
  'webhooks:manage': 'Read and manage webhook apps and their deliveries.',
  'organizations:read': 'Read organizations, members, domains, invitations, roles and permissions; can and effectivePermissions.',
  'organizations:manage': 'Manage organizations, members, invitations, domains, roles, permissions and the roles of users.',
  'identity_providers:manage': 'Read and manage identity providers (identityProviders, createIdentityProvider, updateIdentityProvider, deleteIdentityProvider) and read the provider tokens kept with links (IdpLink.accessToken).',
  'events:read': 'Read the event log and follow it live: events, userEvents, organizationEvents, User.events.',
  'api_keys:manage': 'List, create and revoke API keys (a key gives only scopes it holds).',
  'personal_access_tokens:manage': "List, create and revoke any user's personal access tokens (a key gives only scopes it holds).",
  '*': 'Everything, including scopes added later. The bootstrap key and keys made before scopes existed hold it.',
} as const;

export type Scope = keyof typeof SCOPES;

/** A named scope, for the fields that declare one (the `*` wildcard is held, never needed). */
export type NeededScope = Exclude<Scope, '*'>;

/**
 * The scopes a personal access token may hold: those of operations a user
 * runs on itself without a session. Operations that need a session (a
 * credential or contact change, which needs a recent re-authentication;
 * logout; creating tokens) are for access tokens only.
 */
export const PERSONAL_ACCESS_TOKEN_SCOPES: readonly Scope[] = ['users:read', 'users:write', 'credentials:verify', 'sessions:write', 'organizations:read', 'events:read', '*'];

export function isScope(value: string): value is Scope {
  return Object.hasOwn(SCOPES, value);
}

/** True when `held` grants `needed` (`*` grants every scope). */
export function holdsScope(held: readonly string[], needed: string): boolean {
  return held.includes('*') || held.includes(needed);
}

/** The first of `requested` that `held` does not grant, if any: a caller gives only scopes it holds. */
export function scopeNotHeld(held: readonly string[], requested: readonly string[]): string | undefined {
  return requested.find((scope) => !holdsScope(held, scope));
}

/** Checked scope names, without repeats and in the order of the list above; throws InvalidInputError naming `scopes`. */
export function checkScopes(requested: readonly string[], allowed: readonly Scope[] = Object.keys(SCOPES) as Scope[]): Scope[] {
  const unknown = requested.find((s) => !isScope(s));
  if (unknown !== undefined) throw new InvalidInputError('scopes', `Unknown scope ${JSON.stringify(unknown.slice(0, 60))}; the scopes are ${Object.keys(SCOPES).join(', ')}.`);
  const refused = requested.find((s) => !allowed.includes(s as Scope));
  if (refused !== undefined) throw new InvalidInputError('scopes', `${refused} cannot be given here; allowed: ${allowed.join(', ')}.`);
  return (Object.keys(SCOPES) as Scope[]).filter((s) => requested.includes(s));
}

/** Scopes as stored: names separated by spaces (like OAuth's scope parameter). */
export const storedScopes = (scopes: readonly string[]): string => scopes.join(' ');
export const parseStoredScopes = (stored: string): string[] => stored.split(' ').filter(Boolean);
