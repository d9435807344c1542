/**
 * The only reader of the environment. Parses it once with zod into a frozen
 * object; everything else receives the slice it needs. Defaults serve one
 * machine with no setup: a SQLite file under ./data, in-process pub/sub,
 * console delivery, keys generated beside the database.
 */
import path from 'node:path';
import { z } from 'zod';
import { ARGON2_MAX_MEMORY_KIB, ARGON2_MAX_PARALLELISM, ARGON2_MAX_TIME_COST } from './modules/password/hash-limits.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) =>
  z.coerce
    .number({ message: 'expected a whole number' })
    .int('expected a whole number')
    .min(min, `expected at least ${min}`)
    .max(max, `expected at most ${max}`);

/** A 32-byte key written as 64 hex characters or base64. */
const key32 = z.string().transform((v, ctx) => {
  const buf = /^[0-9a-fA-F]{64}$/.test(v) ? Buffer.from(v, 'hex') : Buffer.from(v, 'base64');
  if (buf.length !== 32) {
    ctx.addIssue({ code: 'custom', message: 'must be 32 bytes, as 64 hex characters or base64 (openssl rand -base64 32)' });
    return z.NEVER;
  }
  return buf;
});

const databaseUrl = z.string().refine((v) => /^(file:|postgres(ql)?:\/\/)/.test(v), {
  message: 'must start with file: (SQLite) or postgresql:// (PostgreSQL)',
});

/**
 * Comma-separated browser origins (scheme, host, optional port), normalized as
 * browsers send them. `*` and paths are refused: the list is an allowlist.
 */
const origins = z.string().transform((v, ctx) => {
  const list: string[] = [];
  for (const entry of v.split(',').map((o) => o.trim()).filter(Boolean)) {
    let origin: string | undefined;
    try {
      const url = new URL(entry);
      if ((url.protocol === 'https:' || url.protocol === 'http:') && url.origin.toLowerCase() === entry.toLowerCase()) origin = url.origin;
    } catch {
      // not a URL: reported below
    }
    if (!origin) {
      ctx.addIssue({ code: 'custom', message: `"${entry}" is not an origin such as https://app.example.com (scheme, host and port only; no path, no *)` });
      return z.NEVER;
    }
    list.push(origin);
  }
  return list;
});

/**
 * The delivery hook's secret: `whsec_<base64>` (Standard Webhooks) of at least
 * 16 bytes, or at least 16 printable ASCII characters used as written.
 * Receivers' libraries decode base64 strictly and take a raw secret's
 * characters as its bytes: anything else would sign with a key they do not share.
 */
const hookSecret = z.string().refine(
  (v) =>
    v.startsWith('whsec_')
      ? /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v.slice(6)) && Buffer.from(v.slice(6), 'base64').length >= 16
      : /^[\x20-\x7e]{16,}$/.test(v),
  { message: 'must be whsec_ followed by base64 of at least 16 bytes, or at least 16 printable ASCII characters' },
);

/**
 * A URL template for links the gateway sends: its secret's placeholder
 * required, the others optional, nothing else in braces (a typo such as
 * `{user_id}` would go out as written). Filled in, it must be an http(s) URL
 * whose host holds no placeholder: a secret in the host name would travel to
 * DNS resolvers. `placeholders` maps each placeholder to a harmless value to
 * check the template with; the first one is the required secret.
 */
function linkTemplateOf(placeholders: Record<string, string>, secretIs: string, example: string) {
  const names = Object.keys(placeholders);
  const [secret, ...others] = names;
  const pattern = new RegExp(names.map((n) => n.replace(/[{}]/g, '\\$&')).join('|'), 'g');
  const list = (items: string[], joiner: string) => items.join(joiner);
  return z.string().superRefine((v, ctx) => {
    const fill = (pick: (sample: string) => string) => v.replace(pattern, (p) => pick(placeholders[p]));
    const unknown = v.match(/\{[^}]*\}/g)?.find((p) => !(p in placeholders));
    let problem: string | undefined;
    if (!v.includes(secret)) problem = `must contain ${secret}, where ${secretIs} goes${others.length ? ` (and may contain ${list(others, ', ')})` : ''}`;
    else if (unknown) problem = `has the unknown placeholder ${unknown}; only ${list(names, ' and ')} are filled in`;
    else {
      try {
        const url = new URL(fill((sample) => sample));
        if (url.protocol !== 'https:' && url.protocol !== 'http:') problem = 'must be an http:// or https:// URL';
        else if (new URL(fill((sample) => `${sample}x`)).host !== url.host) problem = `must not have ${list(names, ' or ')} in the host name`;
      } catch {
        problem = `must be an http:// or https:// URL, e.g. ${example}`;
      }
    }
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

const linkTemplate = linkTemplateOf({ '{code}': 'CODE', '{userId}': 'usr_id' }, 'the registration code', 'https://app.example.com/passkeys?user={userId}&code={code}');
/** Organization invitation links: {token} required, {invitationId} optional. */
const invitationLinkTemplate = linkTemplateOf({ '{token}': 'TOKEN', '{invitationId}': 'inv_id' }, 'the invitation token', 'https://app.example.com/join?token={token}');

/**
 * OpenTelemetry's `key=value,key=value` lists (OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_RESOURCE_ATTRIBUTES), values percent-decoded. The message never quotes
 * the value: exporter headers usually carry a collector's API key.
 */
const keyValues = z.string().transform((v, ctx) => {
  const pairs: Record<string, string> = {};
  for (const item of v.split(',').map((p) => p.trim()).filter(Boolean)) {
    const at = item.indexOf('=');
    let value: string | undefined;
    try {
      value = at > 0 ? decodeURIComponent(item.slice(at + 1).trim()) : undefined;
    } catch {
      // malformed percent-encoding: reported below
    }
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be comma-separated key=value pairs, values percent-encoded' });
      return z.NEVER;
    }
    pairs[item.slice(0, at).trim()] = value;
  }
  return pairs;
});

const httpUrl = z.url({ message: 'must be an http:// or https:// URL', protocol: /^https?$/ });

/**
 * The gateway's address as browsers reach it: scheme, host, optional port and
 * path prefix (a proxy's), no query. Kept without a trailing slash.
 */
const publicUrl = z.string().transform((v, ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(v);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash || url.username || url.password) {
    ctx.addIssue({ code: 'custom', message: 'must be an http:// or https:// URL without query, fragment or credentials, e.g. https://auth.example.com' });
    return z.NEVER;
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
});

const otlpProtocol = z.enum(['http/protobuf', 'http/json'], { message: 'expected http/protobuf or http/json (OTLP over HTTP; gRPC is not supported)' });

const TRACE_SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

/** Every variable the gateway reads, with its default. The README's table mirrors this list. */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(4000),
  PORTCULLIS_METRICS_PORT: int(0, 65535).optional(),
  PORTCULLIS_DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: databaseUrl.optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  PORTCULLIS_REDIS_PREFIX: z.string().min(1).max(100).default('portcullis:'),
  PORTCULLIS_TRUST_PROXY: bool.default(false),
  PORTCULLIS_PUBLIC_RATE_LIMIT: int(0, 1_000_000).default(60),
  PORTCULLIS_LOGIN_IDENTIFIER_RATE_LIMIT: int(0, 1_000_000).default(20),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PORTCULLIS_BOOTSTRAP_API_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
  PORTCULLIS_ENCRYPTION_KEY: key32.optional(),
  PORTCULLIS_GRAPHIQL: bool.optional(),
  PORTCULLIS_MAX_DEPTH: int(2, 100).default(12),
  PORTCULLIS_MAX_COST: int(10, 1_000_000).default(10_000),
  PORTCULLIS_MAX_ALIASES: int(1, 1000).default(30),
  PORTCULLIS_MAX_SUBSCRIPTIONS_PER_SOCKET: int(1, 10_000).default(50),
  PORTCULLIS_CORS_ORIGINS: origins.optional(),
  PORTCULLIS_SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  // Database pool (PostgreSQL): bounded waits, so a dead server never hangs a request or shutdown.
  PORTCULLIS_DB_POOL_SIZE: int(1, 1000).default(10),
  PORTCULLIS_DB_ACQUIRE_TIMEOUT_MS: int(100, 600_000).default(5_000),
  PORTCULLIS_DB_STATEMENT_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
  PORTCULLIS_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: int(0, 3_600_000).default(60_000),
  PORTCULLIS_PRODUCT_NAME: z.string().min(1).default('Portcullis'),
  PORTCULLIS_PUBLIC_URL: publicUrl.optional(),
  // Passwords: argon2id defaults are OWASP's (19 MiB, 2 iterations, 1 lane). The maxima are the
  // ceilings above which no stored hash is verified: a higher setting would write hashes that never verify.
  PORTCULLIS_ARGON2_MEMORY_KIB: int(1024, ARGON2_MAX_MEMORY_KIB).default(19_456),
  PORTCULLIS_ARGON2_ITERATIONS: int(1, ARGON2_MAX_TIME_COST).default(2),
  PORTCULLIS_ARGON2_PARALLELISM: int(1, ARGON2_MAX_PARALLELISM).default(1),
  // Node's own variable (libuv reads it at start); read here too, to tell running hashes from waiting ones.
  UV_THREADPOOL_SIZE: int(1, 1024).default(4),
  PORTCULLIS_PASSWORD_MIN_LENGTH: int(1, 1024).default(8),
  PORTCULLIS_PASSWORD_MAX_LENGTH: int(8, 4096).default(128),
  PORTCULLIS_PASSWORD_REJECT_COMMON: bool.default(true),
  PORTCULLIS_PASSWORD_RESET_TTL_SECONDS: int(60, 604_800).default(3600),
  // Lockout: on by default; 0 attempts turns a limit off; 0 seconds locks until an admin unlocks.
  PORTCULLIS_LOCKOUT_PASSWORD_ATTEMPTS: int(0, 1000).default(10),
  PORTCULLIS_LOCKOUT_CODE_ATTEMPTS: int(0, 1000).default(10),
  PORTCULLIS_LOCKOUT_DURATION_SECONDS: int(0, 31_536_000).default(3600),
  // TOTP and backup codes.
  PORTCULLIS_TOTP_ISSUER: z.string().min(1).optional(),
  PORTCULLIS_TOTP_ACCOUNT_NAME: z.enum(['email', 'username', 'id']).default('email'),
  PORTCULLIS_TOTP_WINDOW: int(0, 10).default(1),
  PORTCULLIS_BACKUP_CODE_COUNT: int(1, 100).default(10),
  // One-time codes (verification, sign-in OTP).
  PORTCULLIS_OTP_LENGTH: int(4, 12).default(6),
  PORTCULLIS_OTP_TTL_SECONDS: int(30, 86_400).default(600),
  PORTCULLIS_OTP_MAX_ATTEMPTS: int(1, 100).default(5),
  PORTCULLIS_OTP_RESEND_COOLDOWN_SECONDS: int(0, 3600).default(30),
  PORTCULLIS_DEFAULT_PHONE_REGION: z.string().regex(/^[A-Z]{2}$/, 'must be a two-letter country code such as US').optional(),
  // Delivery of codes.
  PORTCULLIS_EMAIL_DELIVERY: z.enum(['console', 'smtp', 'http']).default('console'),
  PORTCULLIS_SMS_DELIVERY: z.enum(['console', 'twilio', 'http']).default('console'),
  PORTCULLIS_ALLOW_CONSOLE_DELIVERY: bool.default(false),
  PORTCULLIS_DEFAULT_LOCALE: z.string().min(2).default('en'),
  SMTP_HOST: z.string().min(1).optional(),
  SMTP_PORT: int(1, 65535).default(587),
  SMTP_SECURE: bool.default(false),
  SMTP_USER: z.string().optional(),
  SMTP_PASSWORD: z.string().optional(),
  SMTP_FROM: z.string().min(3).default('Portcullis <no-reply@localhost>'),
  TWILIO_BASE_URL: z.url({ message: 'must be a URL' }).default('https://api.twilio.com'),
  TWILIO_ACCOUNT_SID: z.string().optional(),
  TWILIO_AUTH_TOKEN: z.string().optional(),
  TWILIO_FROM: z.string().optional(),
  PORTCULLIS_DELIVERY_HOOK_URL: z.url({ message: 'must be a URL' }).optional(),
  PORTCULLIS_DELIVERY_HOOK_SECRET: hookSecret.optional(),
  // Events and webhooks.
  PORTCULLIS_EVENT_RETENTION_DAYS: int(0, 36_500).default(0),
  PORTCULLIS_RELAY_POLL_MS: int(10, 60_000).default(200),
  PORTCULLIS_SUBSCRIPTION_BUFFER: int(1, 1_000_000).default(1000),
  PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  PORTCULLIS_WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(15_000),
  PORTCULLIS_WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'must be comma-separated seconds, e.g. 0,5,300')
    .default('0,5,300,1800,7200,18000,36000,36000'),
  PORTCULLIS_WEBHOOK_SECRET_GRACE_SECONDS: int(0, 2_592_000).default(86_400),
  PORTCULLIS_WEBHOOK_DISABLE_AFTER_SECONDS: int(60, 31_536_000).default(432_000),
  // Sessions and tokens.
  PORTCULLIS_ISSUER: z.url({ message: 'must be a URL' }).optional(),
  PORTCULLIS_AUDIENCE: z.string().min(1).default('portcullis'),
  PORTCULLIS_SIGNING_ALG: z.enum(['EdDSA', 'ES256']).default('EdDSA'),
  PORTCULLIS_ACCESS_TOKEN_TTL_SECONDS: int(30, 86_400).default(900),
  PORTCULLIS_REFRESH_TOKEN_TTL_SECONDS: int(60, 31_536_000).default(2_592_000),
  PORTCULLIS_MFA_TOKEN_TTL_SECONDS: int(30, 3600).default(300),
  PORTCULLIS_REAUTH_MAX_AGE_SECONDS: int(10, 86_400).default(300),
  PORTCULLIS_SUBSCRIPTION_REAUTH_SECONDS: int(1, 3600).default(30),
  PORTCULLIS_TOKEN_ROLES: bool.default(false),
  PORTCULLIS_TOKEN_HASURA_CLAIMS: bool.default(false),
  PORTCULLIS_TOKEN_HASURA_DEFAULT_ROLE: z.string().regex(/^[A-Za-z0-9_:.-]{1,64}$/, 'must be a role name (letters, digits, _ : . -)').default('user'),
  PORTCULLIS_TOKEN_METADATA_KEYS: z
    .string()
    .regex(/^\s*([A-Za-z0-9_-]{1,100}\s*(,\s*[A-Za-z0-9_-]{1,100}\s*)*)?$/, 'must be comma-separated top-level keys of publicMetadata (letters, digits, _ -), e.g. plan,tier')
    .default('')
    .transform((v) => [...new Set(v.split(',').map((k) => k.trim()).filter(Boolean))]),
  // WebAuthn.
  PORTCULLIS_WEBAUTHN_RP_ID: z.string().min(1).default('localhost'),
  PORTCULLIS_WEBAUTHN_RP_NAME: z.string().min(1).optional(),
  PORTCULLIS_WEBAUTHN_ORIGINS: z.string().min(1).optional(),
  PORTCULLIS_WEBAUTHN_CHALLENGE_TTL_SECONDS: int(30, 3600).default(300),
  PORTCULLIS_PASSKEY_DEMO: bool.default(false),
  PORTCULLIS_PASSKEY_LINK_URL: linkTemplate.optional(),
  PORTCULLIS_ORGANIZATION_OWNER_PERMISSION: z.string().regex(/^[a-z0-9_.:-]{1,100}$/, 'expected a permission key such as organization:delete').default('organization:delete'),
  PORTCULLIS_INVITATION_LINK_URL: invitationLinkTemplate.optional(),
  // Access log and traces; the OTEL_ variables are OpenTelemetry's standard ones.
  PORTCULLIS_ACCESS_LOG: bool.optional(),
  OTEL_SDK_DISABLED: bool.default(false),
  OTEL_SERVICE_NAME: z.string().min(1).default('portcullis'),
  OTEL_RESOURCE_ATTRIBUTES: keyValues.optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol.optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol.optional(),
  OTEL_EXPORTER_OTLP_HEADERS: keyValues.optional(),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: keyValues.optional(),
  OTEL_TRACES_SAMPLER: z.enum(TRACE_SAMPLERS, { message: `expected one of ${TRACE_SAMPLERS.join(', ')}` }).default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number({ message: 'expected a number from 0 to 1' }).min(0, 'expected a number from 0 to 1').max(1, 'expected a number from 0 to 1').optional(),
});

/** Every variable name the gateway reads. */
export const variableNames = Object.keys(envSchema.shape);

export type DatabaseProvider = 'sqlite' | 'postgresql';

export interface Config {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  /** Serve GET /metrics on this port (same host) and not on `port`; absent: on `port`. */
  metricsPort?: number;
  dataDir: string;
  database: {
    provider: DatabaseProvider;
    url: string;
    /** PostgreSQL pool: connections, how long a request waits for one, and server-side timeouts (0 = none). */
    pool: { size: number; acquireTimeoutMs: number; statementTimeoutMs: number; idleInTransactionTimeoutMs: number };
  };
  redisUrl?: string;
  /** Namespace of Redis channels and keys, so deployments (and test runs) can share one server. */
  redisPrefix: string;
  /** Take the client address from X-Forwarded-For (only behind a proxy that sets it). */
  trustProxy: boolean;
  /** Public sign-in operations per client address and minute, whoever calls; 0 = no limit. */
  publicRateLimit: number;
  /** login attempts per identifier (email or username) and minute, from any address; 0 = no limit. */
  loginIdentifierRateLimit: number;
  logLevel: string;
  bootstrapApiKey?: string;
  /** Absent until start-up resolves it (generated into the data folder on first start). */
  encryptionKey?: Buffer;
  graphiql: boolean;
  /** maxSubscriptionsPerSocket: operations running at once on one graphql-ws connection. */
  limits: { maxDepth: number; maxCost: number; maxAliases: number; maxSubscriptionsPerSocket: number };
  /** Browser origins allowed to call /graphql cross-origin; empty: none. */
  corsOrigins: string[];
  shutdownTimeoutMs: number;
  productName: string;
  /** The gateway's address as browsers reach it (links it hands out: the webhook portal); absent: http://HOST:PORT. No trailing slash. */
  publicUrl?: string;
  /** Threads in libuv's pool, where password hashing runs (UV_THREADPOOL_SIZE). */
  threadPoolSize: number;
  passwords: {
    argon2: { memoryCost: number; timeCost: number; parallelism: number };
    minLength: number;
    maxLength: number;
    rejectCommon: boolean;
    resetTtlSeconds: number;
  };
  /** 0 attempts: that limit is off. durationSeconds 0: a policy lock lasts until an admin unlocks. */
  lockout: { passwordAttempts: number; codeAttempts: number; durationSeconds: number };
  totp: { issuer: string; accountName: 'email' | 'username' | 'id'; window: number };
  backupCodes: { count: number };
  otp: { length: number; ttlSeconds: number; maxAttempts: number; resendCooldownSeconds: number; defaultPhoneRegion?: string };
  delivery: {
    email: 'console' | 'smtp' | 'http';
    sms: 'console' | 'twilio' | 'http';
    defaultLocale: string;
    smtp: { host?: string; port: number; secure: boolean; user?: string; password?: string; from: string };
    twilio: { baseUrl: string; accountSid?: string; authToken?: string; from?: string };
    hook: { url?: string; secret?: string };
  };
  events: { retentionDays: number; relayPollMs: number; subscriptionBuffer: number };
  webhooks: {
    allowPrivate: boolean;
    timeoutMs: number;
    /** Seconds to wait before each attempt: the first entry is the first attempt. */
    retryScheduleSeconds: number[];
    secretGraceSeconds: number;
    disableAfterSeconds: number;
  };
  tokens: {
    /** Absent: derived from the listening address at start. */
    issuer?: string;
    audience: string;
    signingAlg: 'EdDSA' | 'ES256';
    accessTtlSeconds: number;
    refreshTtlSeconds: number;
    mfaTtlSeconds: number;
    /** A session must have proved a factor this recently for a user to change their own credentials. */
    reauthMaxAgeSeconds: number;
    /** How often a live subscription re-checks that its caller still has access. */
    subscriptionReauthSeconds: number;
    /** Global role keys as the `roles` claim of every access token. */
    roles: boolean;
    /** Hasura's claims block (https://hasura.io/jwt/claims) in every access token. */
    hasuraClaims: boolean;
    hasuraDefaultRole: string;
    /** Top-level publicMetadata keys copied into every access token, under `public_metadata`. */
    metadataKeys: string[];
  };
  /** registrationLinkUrl: the template of the links createPasskeyRegistrationLink sends ({code}, {userId}); absent: it only returns codes. */
  webauthn: { rpId: string; rpName: string; origins: string[]; challengeTtlSeconds: number; demoPage: boolean; registrationLinkUrl?: string };
  /**
   * ownerPermission: the permission whose last holder in an organization cannot be removed;
   * invitationLinkUrl: the template of invitation links ({token}, {invitationId}); absent: invitations are only returned.
   */
  organizations: { ownerPermission: string; invitationLinkUrl?: string };
  /** One JSON line per HTTP request on the log (at info level). */
  accessLog: boolean;
  /** OpenTelemetry traces; absent: off, and the SDK is never loaded. */
  tracing?: TracingConfig;
}

export interface TracingConfig {
  serviceName: string;
  /** Resource attributes besides service.name (OTEL_RESOURCE_ATTRIBUTES). */
  resourceAttributes: Record<string, string>;
  /** The URL spans are POSTed to. */
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  /** Sent with every export (a collector's API key): never logged. */
  headers: Record<string, string>;
  sampler: (typeof TRACE_SAMPLERS)[number];
  /** The ratio of the traceidratio samplers, 0 to 1. */
  samplerRatio: number;
}

/** A configuration mistake: names the variable and what is wrong with it. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  // Empty strings mean "unset": shells and .env files often export VAR= .
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(String(issue.path[0] ?? 'environment'), issue.message);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.PORTCULLIS_DATA_DIR);
  const url = e.DATABASE_URL ?? `file:${path.join(dataDir, 'portcullis.db')}`;
  const provider: DatabaseProvider = url.startsWith('file:') ? 'sqlite' : 'postgresql';
  if (e.PORTCULLIS_METRICS_PORT !== undefined && e.PORTCULLIS_METRICS_PORT !== 0 && e.PORTCULLIS_METRICS_PORT === e.PORT) {
    throw new ConfigError('PORTCULLIS_METRICS_PORT', 'is the same as PORT; give the metrics a port of their own, or leave it unset to serve them on PORT');
  }
  if (e.PORTCULLIS_PASSWORD_MIN_LENGTH > e.PORTCULLIS_PASSWORD_MAX_LENGTH) {
    throw new ConfigError('PORTCULLIS_PASSWORD_MIN_LENGTH', 'is larger than PORTCULLIS_PASSWORD_MAX_LENGTH');
  }
  if (e.NODE_ENV === 'production' && !e.PORTCULLIS_ALLOW_CONSOLE_DELIVERY) {
    // Console delivery writes codes to the log while the API reports them as sent: in
    // production that hands password-reset and verification codes to whoever reads the logs.
    for (const variable of ['PORTCULLIS_EMAIL_DELIVERY', 'PORTCULLIS_SMS_DELIVERY'] as const) {
      if (e[variable] === 'console') {
        throw new ConfigError(variable, 'is console (codes go to the log) in production; choose a real sender, or set PORTCULLIS_ALLOW_CONSOLE_DELIVERY=true');
      }
    }
  }
  if (provider === 'postgresql' && !e.PORTCULLIS_ENCRYPTION_KEY && e.NODE_ENV !== 'test') {
    // A key generated into one machine's data folder would differ between instances.
    throw new ConfigError('PORTCULLIS_ENCRYPTION_KEY', 'is required with PostgreSQL, so that every instance shares it');
  }
  return Object.freeze({
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    metricsPort: e.PORTCULLIS_METRICS_PORT,
    dataDir,
    database: Object.freeze({
      provider,
      url,
      pool: Object.freeze({
        size: e.PORTCULLIS_DB_POOL_SIZE,
        acquireTimeoutMs: e.PORTCULLIS_DB_ACQUIRE_TIMEOUT_MS,
        statementTimeoutMs: e.PORTCULLIS_DB_STATEMENT_TIMEOUT_MS,
        idleInTransactionTimeoutMs: e.PORTCULLIS_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      }),
    }),
    redisUrl: e.REDIS_URL,
    redisPrefix: e.PORTCULLIS_REDIS_PREFIX,
    trustProxy: e.PORTCULLIS_TRUST_PROXY,
    publicRateLimit: e.PORTCULLIS_PUBLIC_RATE_LIMIT,
    loginIdentifierRateLimit: e.PORTCULLIS_LOGIN_IDENTIFIER_RATE_LIMIT,
    logLevel: e.LOG_LEVEL,
    bootstrapApiKey: e.PORTCULLIS_BOOTSTRAP_API_KEY,
    encryptionKey: e.PORTCULLIS_ENCRYPTION_KEY,
    // An explorer of the whole API is for development: off in production unless asked for.
    graphiql: e.PORTCULLIS_GRAPHIQL ?? e.NODE_ENV !== 'production',
    limits: Object.freeze({
      maxDepth: e.PORTCULLIS_MAX_DEPTH,
      maxCost: e.PORTCULLIS_MAX_COST,
      maxAliases: e.PORTCULLIS_MAX_ALIASES,
      maxSubscriptionsPerSocket: e.PORTCULLIS_MAX_SUBSCRIPTIONS_PER_SOCKET,
    }),
    corsOrigins: e.PORTCULLIS_CORS_ORIGINS ?? [],
    shutdownTimeoutMs: e.PORTCULLIS_SHUTDOWN_TIMEOUT_MS,
    productName: e.PORTCULLIS_PRODUCT_NAME,
    publicUrl: e.PORTCULLIS_PUBLIC_URL,
    threadPoolSize: e.UV_THREADPOOL_SIZE,
    passwords: {
      argon2: { memoryCost: e.PORTCULLIS_ARGON2_MEMORY_KIB, timeCost: e.PORTCULLIS_ARGON2_ITERATIONS, parallelism: e.PORTCULLIS_ARGON2_PARALLELISM },
      minLength: e.PORTCULLIS_PASSWORD_MIN_LENGTH,
      maxLength: e.PORTCULLIS_PASSWORD_MAX_LENGTH,
      rejectCommon: e.PORTCULLIS_PASSWORD_REJECT_COMMON,
      resetTtlSeconds: e.PORTCULLIS_PASSWORD_RESET_TTL_SECONDS,
    },
    lockout: {
      passwordAttempts: e.PORTCULLIS_LOCKOUT_PASSWORD_ATTEMPTS,
      codeAttempts: e.PORTCULLIS_LOCKOUT_CODE_ATTEMPTS,
      durationSeconds: e.PORTCULLIS_LOCKOUT_DURATION_SECONDS,
    },
    totp: { issuer: e.PORTCULLIS_TOTP_ISSUER ?? e.PORTCULLIS_PRODUCT_NAME, accountName: e.PORTCULLIS_TOTP_ACCOUNT_NAME, window: e.PORTCULLIS_TOTP_WINDOW },
    backupCodes: { count: e.PORTCULLIS_BACKUP_CODE_COUNT },
    otp: {
      length: e.PORTCULLIS_OTP_LENGTH,
      ttlSeconds: e.PORTCULLIS_OTP_TTL_SECONDS,
      maxAttempts: e.PORTCULLIS_OTP_MAX_ATTEMPTS,
      resendCooldownSeconds: e.PORTCULLIS_OTP_RESEND_COOLDOWN_SECONDS,
      defaultPhoneRegion: e.PORTCULLIS_DEFAULT_PHONE_REGION,
    },
    delivery: {
      email: e.PORTCULLIS_EMAIL_DELIVERY,
      sms: e.PORTCULLIS_SMS_DELIVERY,
      defaultLocale: e.PORTCULLIS_DEFAULT_LOCALE,
      smtp: { host: e.SMTP_HOST, port: e.SMTP_PORT, secure: e.SMTP_SECURE, user: e.SMTP_USER, password: e.SMTP_PASSWORD, from: e.SMTP_FROM },
      twilio: { baseUrl: e.TWILIO_BASE_URL, accountSid: e.TWILIO_ACCOUNT_SID, authToken: e.TWILIO_AUTH_TOKEN, from: e.TWILIO_FROM },
      hook: { url: e.PORTCULLIS_DELIVERY_HOOK_URL, secret: e.PORTCULLIS_DELIVERY_HOOK_SECRET },
    },
    events: { retentionDays: e.PORTCULLIS_EVENT_RETENTION_DAYS, relayPollMs: e.PORTCULLIS_RELAY_POLL_MS, subscriptionBuffer: e.PORTCULLIS_SUBSCRIPTION_BUFFER },
    webhooks: {
      allowPrivate: e.PORTCULLIS_WEBHOOK_ALLOW_PRIVATE,
      timeoutMs: e.PORTCULLIS_WEBHOOK_TIMEOUT_MS,
      retryScheduleSeconds: e.PORTCULLIS_WEBHOOK_RETRY_SCHEDULE.split(',').map(Number),
      secretGraceSeconds: e.PORTCULLIS_WEBHOOK_SECRET_GRACE_SECONDS,
      disableAfterSeconds: e.PORTCULLIS_WEBHOOK_DISABLE_AFTER_SECONDS,
    },
    tokens: {
      issuer: e.PORTCULLIS_ISSUER,
      audience: e.PORTCULLIS_AUDIENCE,
      signingAlg: e.PORTCULLIS_SIGNING_ALG,
      accessTtlSeconds: e.PORTCULLIS_ACCESS_TOKEN_TTL_SECONDS,
      refreshTtlSeconds: e.PORTCULLIS_REFRESH_TOKEN_TTL_SECONDS,
      mfaTtlSeconds: e.PORTCULLIS_MFA_TOKEN_TTL_SECONDS,
      reauthMaxAgeSeconds: e.PORTCULLIS_REAUTH_MAX_AGE_SECONDS,
      subscriptionReauthSeconds: e.PORTCULLIS_SUBSCRIPTION_REAUTH_SECONDS,
      roles: e.PORTCULLIS_TOKEN_ROLES,
      hasuraClaims: e.PORTCULLIS_TOKEN_HASURA_CLAIMS,
      hasuraDefaultRole: e.PORTCULLIS_TOKEN_HASURA_DEFAULT_ROLE,
      metadataKeys: e.PORTCULLIS_TOKEN_METADATA_KEYS,
    },
    webauthn: {
      rpId: e.PORTCULLIS_WEBAUTHN_RP_ID,
      rpName: e.PORTCULLIS_WEBAUTHN_RP_NAME ?? e.PORTCULLIS_PRODUCT_NAME,
      origins: (e.PORTCULLIS_WEBAUTHN_ORIGINS ?? `http://localhost:${e.PORT}`).split(',').map((o) => o.trim()),
      challengeTtlSeconds: e.PORTCULLIS_WEBAUTHN_CHALLENGE_TTL_SECONDS,
      demoPage: e.PORTCULLIS_PASSKEY_DEMO,
      registrationLinkUrl: e.PORTCULLIS_PASSKEY_LINK_URL,
    },
    organizations: { ownerPermission: e.PORTCULLIS_ORGANIZATION_OWNER_PERMISSION, invitationLinkUrl: e.PORTCULLIS_INVITATION_LINK_URL },
    // Requests are logged wherever someone reads the log; tests read the lines they assert on.
    accessLog: e.PORTCULLIS_ACCESS_LOG ?? e.NODE_ENV !== 'test',
    tracing: tracingConfig(e),
  });
}

/**
 * Traces go where OTEL_EXPORTER_OTLP_TRACES_ENDPOINT says (as written), or to
 * OTEL_EXPORTER_OTLP_ENDPOINT's /v1/traces, as the OpenTelemetry
 * specification has it; with neither, tracing is off.
 */
function tracingConfig(e: z.infer<typeof envSchema>): TracingConfig | undefined {
  const base = e.OTEL_EXPORTER_OTLP_ENDPOINT;
  const url = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (!url || e.OTEL_SDK_DISABLED) return undefined;
  return Object.freeze({
    serviceName: e.OTEL_SERVICE_NAME,
    resourceAttributes: e.OTEL_RESOURCE_ATTRIBUTES ?? {},
    url,
    // The specification's default; both are what collectors' OTLP/HTTP receivers (port 4318) accept.
    protocol: e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
    headers: { ...e.OTEL_EXPORTER_OTLP_HEADERS, ...e.OTEL_EXPORTER_OTLP_TRACES_HEADERS },
    sampler: e.OTEL_TRACES_SAMPLER,
    samplerRatio: e.OTEL_TRACES_SAMPLER_ARG ?? 1,
  });
}

/** The documented variables, for `portcullis start --help` and the README. */
export const configVariables: Array<[name: string, meaning: string]> = [
  ['HOST', 'address to listen on (default 127.0.0.1)'],
  ['PORT', 'port to listen on (default 4000; 0 picks a free one)'],
  ['PORTCULLIS_METRICS_PORT', 'serve GET /metrics (Prometheus) on this port of HOST only, off the public port; 0 picks a free one (default unset: /metrics on PORT)'],
  ['PORTCULLIS_DATA_DIR', 'folder for the SQLite file and generated keys (default ./data)'],
  ['DATABASE_URL', 'file:… for SQLite (default file:<data dir>/portcullis.db) or postgresql://…'],
  ['REDIS_URL', 'redis://… to share pub/sub and counters between instances (optional)'],
  ['PORTCULLIS_REDIS_PREFIX', 'prefix of Redis channels and keys (default portcullis:)'],
  ['PORTCULLIS_TRUST_PROXY', 'take the client IP from X-Forwarded-For; only behind a proxy that sets it (default false)'],
  ['PORTCULLIS_PUBLIC_RATE_LIMIT', 'public sign-in operations per client IP per minute, whatever the Authorization header; shared through Redis when set; 0 = off (default 60)'],
  ['PORTCULLIS_LOGIN_IDENTIFIER_RATE_LIMIT', 'login attempts per email/username per minute from any address; 0 = off (default 20)'],
  ['LOG_LEVEL', 'fatal|error|warn|info|debug|trace|silent (default info)'],
  ['PORTCULLIS_BOOTSTRAP_API_KEY', 'an API key accepted without being stored (at least 24 characters)'],
  ['PORTCULLIS_ENCRYPTION_KEY', '32-byte key for secrets at rest (hex or base64); generated into the data folder if unset with SQLite; required with PostgreSQL'],
  ['PORTCULLIS_GRAPHIQL', 'serve GraphiQL on GET /graphql (default true, false with NODE_ENV=production)'],
  ['PORTCULLIS_MAX_DEPTH', 'maximum query depth (default 12)'],
  ['PORTCULLIS_MAX_COST', 'maximum query cost (default 10000)'],
  ['PORTCULLIS_MAX_ALIASES', 'maximum aliases per operation (default 30)'],
  ['PORTCULLIS_MAX_SUBSCRIPTIONS_PER_SOCKET', 'operations running at once on one WebSocket connection (default 50)'],
  ['PORTCULLIS_CORS_ORIGINS', 'comma-separated browser origins allowed to call /graphql, e.g. https://app.example.com (default none)'],
  ['PORTCULLIS_SHUTDOWN_TIMEOUT_MS', 'longest a shutdown takes, whatever the database does; in-flight requests get this long (default 10000)'],
  ['PORTCULLIS_DB_POOL_SIZE', 'PostgreSQL connections per instance (default 10)'],
  ['PORTCULLIS_DB_ACQUIRE_TIMEOUT_MS', 'longest wait for a PostgreSQL connection before a request fails (default 5000)'],
  ['PORTCULLIS_DB_STATEMENT_TIMEOUT_MS', 'PostgreSQL statement_timeout; 0 = none (default 30000)'],
  ['PORTCULLIS_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', 'PostgreSQL idle_in_transaction_session_timeout; 0 = none (default 60000)'],
  ['NODE_ENV', 'development|production|test; production disables anonymous introspection and refuses console delivery'],
  ['PORTCULLIS_PRODUCT_NAME', 'name used in messages and as the default TOTP issuer (default Portcullis)'],
  ['PORTCULLIS_PUBLIC_URL', 'the gateway\'s address as browsers reach it, e.g. https://auth.example.com (a path prefix is kept); webhook portal links start with it (default http://HOST:PORT)'],
  ['PORTCULLIS_ARGON2_MEMORY_KIB', 'argon2id memory in KiB, 1024 to 524288 (default 19456, OWASP)'],
  ['PORTCULLIS_ARGON2_ITERATIONS', 'argon2id iterations, at most 10 (default 2)'],
  ['PORTCULLIS_ARGON2_PARALLELISM', 'argon2id lanes, at most 16 (default 1)'],
  ['UV_THREADPOOL_SIZE', "threads of Node's libuv pool, where password hashing runs (read by Node at start; the metrics count hashes beyond it as queued) (default 4)"],
  ['PORTCULLIS_PASSWORD_MIN_LENGTH', 'shortest password accepted (default 8)'],
  ['PORTCULLIS_PASSWORD_MAX_LENGTH', 'longest password accepted (default 128)'],
  ['PORTCULLIS_PASSWORD_REJECT_COMMON', 'refuse passwords on the common-password list (default true)'],
  ['PORTCULLIS_PASSWORD_RESET_TTL_SECONDS', 'lifetime of a password reset code (default 3600)'],
  ['PORTCULLIS_LOCKOUT_PASSWORD_ATTEMPTS', 'failed passwords before a lock; 0 = off (default 10)'],
  ['PORTCULLIS_LOCKOUT_CODE_ATTEMPTS', 'failed TOTP/backup/one-time codes before a lock; 0 = off (default 10)'],
  ['PORTCULLIS_LOCKOUT_DURATION_SECONDS', 'how long a policy lock lasts; 0 = until an admin unlocks (default 3600)'],
  ['PORTCULLIS_TOTP_ISSUER', 'issuer shown in authenticator apps (default the product name)'],
  ['PORTCULLIS_TOTP_ACCOUNT_NAME', 'email|username|id shown as the TOTP account name (default email)'],
  ['PORTCULLIS_TOTP_WINDOW', 'TOTP steps accepted either side of now (default 1)'],
  ['PORTCULLIS_BACKUP_CODE_COUNT', 'backup codes per generation (default 10)'],
  ['PORTCULLIS_OTP_LENGTH', 'digits in one-time codes (default 6)'],
  ['PORTCULLIS_OTP_TTL_SECONDS', 'lifetime of one-time codes (default 600)'],
  ['PORTCULLIS_OTP_MAX_ATTEMPTS', 'attempts per one-time code (default 5)'],
  ['PORTCULLIS_OTP_RESEND_COOLDOWN_SECONDS', 'minimum time between two codes for one purpose (default 30)'],
  ['PORTCULLIS_DEFAULT_PHONE_REGION', 'region for phone numbers written without +country, e.g. US'],
  ['PORTCULLIS_EMAIL_DELIVERY', 'console|smtp|http (default console)'],
  ['PORTCULLIS_SMS_DELIVERY', 'console|twilio|http (default console)'],
  ['PORTCULLIS_ALLOW_CONSOLE_DELIVERY', 'allow console delivery (codes written to the log) with NODE_ENV=production (default false)'],
  ['PORTCULLIS_DEFAULT_LOCALE', 'language of messages (default en)'],
  ['SMTP_HOST / SMTP_PORT / SMTP_SECURE / SMTP_USER / SMTP_PASSWORD / SMTP_FROM', 'SMTP server for email delivery'],
  ['TWILIO_BASE_URL / TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN / TWILIO_FROM', 'Twilio-style HTTP API for SMS'],
  ['PORTCULLIS_DELIVERY_HOOK_URL / PORTCULLIS_DELIVERY_HOOK_SECRET', 'HTTP hook for either channel, signed as Standard Webhooks (secret: whsec_… or at least 16 ASCII characters)'],
  ['PORTCULLIS_EVENT_RETENTION_DAYS', 'delete events older than this; 0 = keep (default 0)'],
  ['PORTCULLIS_RELAY_POLL_MS', 'how often the event relay looks for new events (default 200)'],
  ['PORTCULLIS_SUBSCRIPTION_BUFFER', 'events buffered per subscriber before it is closed (default 1000)'],
  ['PORTCULLIS_WEBHOOK_ALLOW_PRIVATE', 'allow webhook URLs on private/loopback addresses (default false)'],
  ['PORTCULLIS_WEBHOOK_TIMEOUT_MS', 'timeout of one webhook request (default 15000)'],
  ['PORTCULLIS_WEBHOOK_RETRY_SCHEDULE', 'seconds before each attempt (default 0,5,300,1800,7200,18000,36000,36000)'],
  ['PORTCULLIS_WEBHOOK_SECRET_GRACE_SECONDS', 'how long a rotated-out secret still signs (default 86400)'],
  ['PORTCULLIS_WEBHOOK_DISABLE_AFTER_SECONDS', 'disable an app whose deliveries all failed this long (default 432000)'],
  ['PORTCULLIS_ISSUER', 'the iss of access tokens (default the gateway URL)'],
  ['PORTCULLIS_AUDIENCE', 'the aud of access tokens (default portcullis)'],
  ['PORTCULLIS_SIGNING_ALG', 'EdDSA|ES256 (default EdDSA)'],
  ['PORTCULLIS_ACCESS_TOKEN_TTL_SECONDS', 'access token lifetime (default 900)'],
  ['PORTCULLIS_REFRESH_TOKEN_TTL_SECONDS', 'session lifetime (default 2592000)'],
  ['PORTCULLIS_MFA_TOKEN_TTL_SECONDS', 'MFA step-up token lifetime (default 300)'],
  ['PORTCULLIS_TOKEN_ROLES', 'true: access tokens carry the user\'s global role keys as `roles` (default false)'],
  ['PORTCULLIS_TOKEN_HASURA_CLAIMS', 'true: access tokens carry Hasura\'s `https://hasura.io/jwt/claims` block (default false)'],
  ['PORTCULLIS_TOKEN_HASURA_DEFAULT_ROLE', 'x-hasura-default-role, and always among the allowed roles (default user)'],
  [
    'PORTCULLIS_TOKEN_METADATA_KEYS',
    'comma-separated top-level keys of publicMetadata copied into access tokens as the `public_metadata` claim, e.g. plan,tier; their values together at most 1200 bytes (default none)',
  ],
  ['PORTCULLIS_REAUTH_MAX_AGE_SECONDS', 'how recently a session must have proved a factor before its user changes credentials (default 300)'],
  ['PORTCULLIS_SUBSCRIPTION_REAUTH_SECONDS', 'a live subscription ends at most this long after its caller loses access (default 30)'],
  ['PORTCULLIS_WEBAUTHN_RP_ID', 'WebAuthn relying party id (default localhost)'],
  ['PORTCULLIS_WEBAUTHN_RP_NAME', 'WebAuthn relying party name (default the product name)'],
  ['PORTCULLIS_WEBAUTHN_ORIGINS', 'comma-separated allowed origins (default http://localhost:<PORT>)'],
  ['PORTCULLIS_WEBAUTHN_CHALLENGE_TTL_SECONDS', 'lifetime of a WebAuthn challenge (default 300)'],
  ['PORTCULLIS_PASSKEY_DEMO', 'serve the passkey demo page at /passkeys (default false)'],
  ['PORTCULLIS_PASSKEY_LINK_URL', 'http(s) URL template of the passkey registration links the gateway sends, with {code} and optionally {userId}, e.g. https://app.example.com/passkeys?user={userId}&code={code} (default none: links are only returned with returnCode)'],
  ['PORTCULLIS_ORGANIZATION_OWNER_PERMISSION', 'the permission key of organization owners: the last member holding it cannot be removed or lose it (default organization:delete)'],
  ['PORTCULLIS_INVITATION_LINK_URL', 'http(s) URL template of organization invitation links, with {token} and optionally {invitationId}, e.g. https://app.example.com/join?token={token} (default none: invitations are only returned with delivery RETURN)'],
  ['PORTCULLIS_ACCESS_LOG', 'one JSON line per HTTP request on the log, at info level (default true, false with NODE_ENV=test); docs/operations.md lists its fields'],
  ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTLP/HTTP collector base URL, e.g. http://127.0.0.1:4318: traces go to its /v1/traces (default none: tracing off, the OpenTelemetry SDK not even loaded)'],
  ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'full URL for traces, used as written; wins over OTEL_EXPORTER_OTLP_ENDPOINT'],
  ['OTEL_EXPORTER_OTLP_PROTOCOL / OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'http/protobuf|http/json (default http/protobuf; gRPC is not supported)'],
  ['OTEL_EXPORTER_OTLP_HEADERS / OTEL_EXPORTER_OTLP_TRACES_HEADERS', 'headers sent with each export, key=value,key=value (a collector\'s API key)'],
  ['OTEL_SERVICE_NAME', 'service.name of the spans (default portcullis)'],
  ['OTEL_RESOURCE_ATTRIBUTES', 'more resource attributes, key=value,key=value (e.g. deployment.environment.name=prod)'],
  ['OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG', 'always_on|always_off|traceidratio|parentbased_always_on|parentbased_always_off|parentbased_traceidratio, and the ratio from 0 to 1 (default parentbased_always_on)'],
  ['OTEL_SDK_DISABLED', 'true turns tracing off whatever the endpoint (default false)'],
];
