/**
 * The model types, one import for every module whichever database runs.
 * Both generated clients (SQLite and PostgreSQL) come from one model file and
 * have identical types; the SQLite one names them. Nothing outside
 * kernel/db imports the generated clients.
 */
export type {
  ApiKey,
  AuthMethod,
  BackupCode,
  Event,
  IdentityProvider,
  IdpIntent,
  IdpLink,
  Membership,
  MfaChallenge,
  OneTimeCode,
  Organization,
  OrganizationDomain,
  OrganizationInvitation,
  PersonalAccessToken,
  RefreshToken,
  Session,
  SigningKey,
  SystemState,
  User,
  WebAuthnChallenge,
  WebhookApp,
  WebhookAttempt,
  WebhookDelivery,
  WebhookPortalLink,
} from './generated/sqlite/client.js';
export { AuthMethodKind, UserState } from './generated/sqlite/enums.js';
