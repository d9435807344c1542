/**
 * The kinds of identity providers and what each needs: generic OIDC
 * (discovered from its issuer), generic OAuth 2.0 (explicit endpoints and a
 * claim mapping), and presets that fill in the rest for Google, Microsoft
 * (Entra ID) and GitHub. Pure: validation of a provider's settings, and the
 * reading of a profile from what a provider returned.
 */
import { isIP } from 'node:net';
import { InvalidInputError } from '../../kernel/errors.js';
import { normalizeEmail } from '../users/input.js';

export const PROVIDER_KINDS = ['OIDC', 'OAUTH2', 'GOOGLE', 'MICROSOFT', 'GITHUB'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

export const LINK_POLICIES = ['NONE', 'PROMPT', 'AUTO_LINK_VERIFIED_EMAIL'] as const;
export type LinkPolicy = (typeof LINK_POLICIES)[number];

/** The profile fields a claim mapping may name, and the OIDC standard claims they default to. */
export const PROFILE_FIELDS = {
  subject: 'sub',
  email: 'email',
  emailVerified: 'email_verified',
  username: 'preferred_username',
  name: 'name',
  givenName: 'given_name',
  familyName: 'family_name',
  picture: 'picture',
} as const;
export type ProfileField = keyof typeof PROFILE_FIELDS;
export type ClaimMapping = Record<ProfileField, string>;

/** Which protocol a kind speaks: OIDC kinds discover their endpoints and verify ID tokens. */
export const isOidcKind = (kind: ProviderKind) => kind === 'OIDC' || kind === 'GOOGLE' || kind === 'MICROSOFT';

interface Preset {
  issuer?: (tenant: string) => string;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  userinfoEndpoint?: string;
  emailsEndpoint?: string;
  scopes: string[];
  mapping?: Partial<ClaimMapping>;
}

const PRESETS: Record<ProviderKind, Preset> = {
  OIDC: { scopes: ['openid', 'email', 'profile'] },
  OAUTH2: { scopes: [] },
  GOOGLE: { issuer: () => 'https://accounts.google.com', scopes: ['openid', 'email', 'profile'] },
  // Entra ID sends no email_verified: its emails count as unverified unless trustEmail says otherwise
  // (an account's email there is an editable attribute, the "nOAuth" takeover).
  MICROSOFT: { issuer: (tenant) => `https://login.microsoftonline.com/${encodeURIComponent(tenant)}/v2.0`, scopes: ['openid', 'email', 'profile'] },
  // OAuth 2.0 only: no ID token; the email comes from /user/emails, where verified and primary.
  GITHUB: {
    authorizationEndpoint: 'https://github.com/login/oauth/authorize',
    tokenEndpoint: 'https://github.com/login/oauth/access_token',
    userinfoEndpoint: 'https://api.github.com/user',
    emailsEndpoint: 'https://api.github.com/user/emails',
    scopes: ['read:user', 'user:email'],
    mapping: { subject: 'id', username: 'login', picture: 'avatar_url' },
  },
};

/** The settings of a provider as an admin gives them (absent: default or unchanged). */
export interface ProviderSettings {
  name?: string | null;
  clientId?: string | null;
  issuer?: string | null;
  /** MICROSOFT: the Entra ID tenant (id or domain; default common). */
  tenant?: string | null;
  authorizationEndpoint?: string | null;
  tokenEndpoint?: string | null;
  userinfoEndpoint?: string | null;
  emailsEndpoint?: string | null;
  scopes?: readonly string[] | null;
  claimMapping?: unknown;
  trustEmail?: boolean | null;
  linkPolicy?: LinkPolicy | null;
  storeTokens?: boolean | null;
  enabled?: boolean | null;
}

/** Where and as whom the gateway talks to a provider. */
export interface ProviderEndpoints {
  kind: ProviderKind;
  issuer: string | null;
  authorizationEndpoint: string | null;
  tokenEndpoint: string | null;
  userinfoEndpoint: string | null;
  emailsEndpoint: string | null;
  clientId: string;
  scopes: string;
}

/** The endpoint columns of a provider's row. */
export const endpointsOf = (p: Omit<ProviderEndpoints, 'kind'> & { kind: string }): ProviderEndpoints => ({
  kind: p.kind as ProviderKind,
  issuer: p.issuer,
  authorizationEndpoint: p.authorizationEndpoint,
  tokenEndpoint: p.tokenEndpoint,
  userinfoEndpoint: p.userinfoEndpoint,
  emailsEndpoint: p.emailsEndpoint,
  clientId: p.clientId,
  scopes: p.scopes,
});

/** The columns of a provider, resolved and checked (the secret is handled by the service). */
export interface ProviderColumns extends ProviderEndpoints {
  name: string;
  claimMapping: Partial<ClaimMapping> | null;
  trustEmail: boolean;
  linkPolicy: LinkPolicy;
  storeTokens: boolean;
  enabled: boolean;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True for http URLs on this machine's loopback: the only place a provider may be reached without TLS. */
export function isLoopbackUrl(url: URL): boolean {
  return url.protocol === 'http:' && (LOOPBACK.has(url.hostname) || (isIP(url.hostname) === 4 && url.hostname.startsWith('127.')));
}

/** An https URL (http only on loopback, for a provider on this machine), at most 2048 characters. */
function endpoint(field: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new InvalidInputError(field, `${field} is not a URL.`);
  }
  if (value.length > 2048) throw new InvalidInputError(field, `${field} is longer than 2048 characters.`);
  if (url.username || url.password || url.hash) throw new InvalidInputError(field, `${field} must not carry credentials or a fragment.`);
  if (url.protocol !== 'https:' && !isLoopbackUrl(url)) throw new InvalidInputError(field, `${field} must be an https:// URL (http:// only on this machine's loopback).`);
  return url.href;
}

function text(field: string, value: string, max: number): string {
  const v = value.trim();
  if (!v || v.length > max || /[\u0000-\u001f]/.test(v)) throw new InvalidInputError(field, `${field} must be 1 to ${max} printable characters.`);
  return v;
}

function scopesOf(kind: ProviderKind, given: readonly string[] | null | undefined): string {
  const scopes = (given ?? PRESETS[kind].scopes).map((s) => s.trim()).filter(Boolean);
  if (scopes.some((s) => !/^[\x21\x23-\x5b\x5d-\x7e]{1,200}$/.test(s))) throw new InvalidInputError('scopes', 'A scope is 1 to 200 characters without spaces, quotes or backslashes.');
  // OIDC needs the openid scope to return an ID token.
  if (isOidcKind(kind) && !scopes.includes('openid')) scopes.unshift('openid');
  if (scopes.length > 50) throw new InvalidInputError('scopes', 'At most 50 scopes.');
  return [...new Set(scopes)].join(' ');
}

function mappingOf(value: unknown): Partial<ClaimMapping> | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new InvalidInputError('claimMapping', 'claimMapping must be a JSON object such as {"subject": "id", "email": "mail"}.');
  const mapping: Partial<ClaimMapping> = {};
  for (const [field, claim] of Object.entries(value)) {
    if (!(field in PROFILE_FIELDS)) throw new InvalidInputError('claimMapping', `claimMapping has an unknown field ${JSON.stringify(field)}; known: ${Object.keys(PROFILE_FIELDS).join(', ')}.`);
    if (typeof claim !== 'string' || !/^[\w.:-]{1,100}$/.test(claim)) throw new InvalidInputError('claimMapping', `claimMapping.${field} must name a claim (letters, digits, _ . : -).`);
    mapping[field as ProfileField] = claim;
  }
  return mapping;
}

/**
 * A new provider's columns from an admin's settings: the kind's preset filled
 * in, every URL checked. Throws InvalidInputError naming the field.
 */
export function newProviderColumns(kind: ProviderKind, input: ProviderSettings): ProviderColumns {
  const preset = PRESETS[kind];
  const oidc = isOidcKind(kind);
  if (!input.name) throw new InvalidInputError('name', 'A provider needs a name.');
  if (!input.clientId) throw new InvalidInputError('clientId', 'A provider needs the client id it issued to this gateway.');
  for (const field of ['authorizationEndpoint', 'tokenEndpoint', 'userinfoEndpoint', 'emailsEndpoint'] as const) {
    if (input[field] && oidc) throw new InvalidInputError(field, `${kind} providers discover their endpoints from the issuer; leave ${field} out.`);
  }
  if (input.emailsEndpoint && kind !== 'GITHUB') throw new InvalidInputError('emailsEndpoint', 'emailsEndpoint is for GITHUB providers.');
  if (input.tenant && kind !== 'MICROSOFT') throw new InvalidInputError('tenant', 'tenant is for MICROSOFT providers.');
  if (input.issuer && (kind === 'GOOGLE' || kind === 'MICROSOFT')) throw new InvalidInputError('issuer', `${kind} providers have a fixed issuer${kind === 'MICROSOFT' ? ' (choose the tenant)' : ''}.`);
  let issuer: string | null = null;
  if (kind === 'OIDC') {
    if (!input.issuer) throw new InvalidInputError('issuer', 'An OIDC provider needs its issuer (the URL its /.well-known/openid-configuration is under).');
    // Kept as written: the discovery document's issuer must equal it exactly.
    endpoint('issuer', input.issuer);
    issuer = input.issuer.trim();
  } else if (preset.issuer) {
    issuer = preset.issuer(input.tenant ? text('tenant', input.tenant, 100) : 'common');
  } else if (input.issuer) {
    endpoint('issuer', input.issuer);
    issuer = input.issuer.trim();
  }
  const pick = (field: 'authorizationEndpoint' | 'tokenEndpoint' | 'userinfoEndpoint' | 'emailsEndpoint') => {
    const given = input[field];
    if (given) return endpoint(field, given);
    return preset[field] ?? null;
  };
  const columns: ProviderColumns = {
    name: text('name', input.name, 100),
    kind,
    issuer,
    authorizationEndpoint: pick('authorizationEndpoint'),
    tokenEndpoint: pick('tokenEndpoint'),
    userinfoEndpoint: pick('userinfoEndpoint'),
    emailsEndpoint: pick('emailsEndpoint'),
    clientId: text('clientId', input.clientId, 500),
    scopes: scopesOf(kind, input.scopes),
    claimMapping: mappingOf(input.claimMapping),
    trustEmail: input.trustEmail ?? false,
    linkPolicy: input.linkPolicy ?? 'PROMPT',
    storeTokens: input.storeTokens ?? false,
    enabled: input.enabled ?? true,
  };
  if (!oidc) {
    for (const field of ['authorizationEndpoint', 'tokenEndpoint', 'userinfoEndpoint'] as const) {
      if (!columns[field]) throw new InvalidInputError(field, `An OAUTH2 provider needs its ${field}.`);
    }
  }
  return columns;
}

/**
 * The columns after an update: unchanged ones kept, given ones checked as on
 * creation (the kind never changes). Returns the columns and the names of the
 * fields that changed.
 */
export function updatedProviderColumns(current: ProviderColumns, input: ProviderSettings): { columns: ProviderColumns; changes: string[] } {
  const merged: ProviderSettings = {
    name: input.name ?? current.name,
    clientId: input.clientId ?? current.clientId,
    issuer: current.kind === 'OIDC' || current.kind === 'OAUTH2' ? (input.issuer !== undefined ? input.issuer : current.issuer) : undefined,
    tenant: current.kind === 'MICROSOFT' ? (input.tenant ?? decodeURIComponent(/microsoftonline\.com\/([^/]+)\//.exec(current.issuer ?? '')?.[1] ?? 'common')) : undefined,
    scopes: input.scopes ?? current.scopes.split(' '),
    claimMapping: input.claimMapping !== undefined ? input.claimMapping : current.claimMapping,
    trustEmail: input.trustEmail ?? current.trustEmail,
    linkPolicy: input.linkPolicy ?? current.linkPolicy,
    storeTokens: input.storeTokens ?? current.storeTokens,
    enabled: input.enabled ?? current.enabled,
  };
  if (!isOidcKind(current.kind)) {
    for (const field of ['authorizationEndpoint', 'tokenEndpoint', 'userinfoEndpoint', 'emailsEndpoint'] as const) {
      merged[field] = input[field] !== undefined ? input[field] : current[field];
    }
  } else {
    for (const field of ['authorizationEndpoint', 'tokenEndpoint', 'userinfoEndpoint', 'emailsEndpoint'] as const) merged[field] = input[field];
  }
  const columns = newProviderColumns(current.kind, merged);
  const changes = (Object.keys(columns) as Array<keyof ProviderColumns>).filter((k) => JSON.stringify(columns[k]) !== JSON.stringify(current[k]));
  return { columns, changes };
}

/** What the gateway keeps of an account at a provider. */
export interface IdpProfile {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  username: string | null;
  name: string | null;
  givenName: string | null;
  familyName: string | null;
  picture: string | null;
  /** The claims as the provider returned them (ID token and userinfo merged). */
  raw: Record<string, unknown>;
}

/** One entry of GitHub's /user/emails. */
export interface ProviderEmail {
  email: string;
  verified: boolean;
  primary: boolean;
}

const stringClaim = (value: unknown, max = 500): string | null => {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return null;
  const v = value.trim();
  return v && v.length <= max ? v : null;
};

function emailClaim(value: unknown): string | null {
  const v = stringClaim(value, 254);
  if (!v) return null;
  try {
    return normalizeEmail(v).email;
  } catch {
    return null;
  }
}

/**
 * Reads a profile from a provider's claims (and, for GitHub, its email list).
 * An email counts as verified only when the provider says so (or the
 * provider is trusted); GitHub's only when it is both verified and primary,
 * and a GitHub account without one has no email here. Null when there is no
 * usable subject.
 */
export function profileOf(
  provider: { kind: ProviderKind; claimMapping: unknown; trustEmail: boolean },
  claims: Record<string, unknown>,
  emails?: ProviderEmail[],
): IdpProfile | null {
  const mapping: ClaimMapping = { ...PROFILE_FIELDS, ...PRESETS[provider.kind].mapping, ...(provider.claimMapping as Partial<ClaimMapping> | null) };
  const subject = stringClaim(claims[mapping.subject], 255);
  if (!subject) return null;
  let email: string | null;
  let verified: boolean;
  if (provider.kind === 'GITHUB') {
    const primary = emails?.find((e) => e.primary && e.verified);
    email = primary ? emailClaim(primary.email) : null;
    verified = email !== null;
  } else {
    email = emailClaim(claims[mapping.email]);
    const said = claims[mapping.emailVerified];
    verified = email !== null && (provider.trustEmail || said === true || said === 'true');
  }
  const picture = stringClaim(claims[mapping.picture], 2048);
  return {
    subject,
    email,
    emailVerified: verified,
    username: stringClaim(claims[mapping.username], 200),
    name: stringClaim(claims[mapping.name], 200),
    givenName: stringClaim(claims[mapping.givenName], 200),
    familyName: stringClaim(claims[mapping.familyName], 200),
    picture: picture && /^https?:\/\//.test(picture) ? picture : null,
    raw: claims,
  };
}
