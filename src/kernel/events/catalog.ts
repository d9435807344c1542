/**
 * The event catalog: every event type the gateway records. On the wire (webhook
 * bodies, the database) types are dotted lower case; in GraphQL the same names
 * are upper snake case (`user.locked` ⇄ USER_LOCKED).
 */
export const eventTypes = [
  'user.created',
  'user.updated',
  'user.deleted',
  'user.locked',
  'user.unlocked',
  'user.deactivated',
  'user.reactivated',
  'user.password_changed',
  'user.password_reset_requested',
  'user.password_verified',
  'user.password_verification_failed',
  'user.password_removed',
  'user.totp_added',
  'user.totp_removed',
  'user.totp_verified',
  'user.totp_verification_failed',
  'user.backup_codes_generated',
  'user.backup_code_used',
  'user.backup_codes_removed',
  'user.email_changed',
  'user.email_verified',
  'user.phone_changed',
  'user.phone_verified',
  'user.otp_sms_added',
  'user.otp_sms_removed',
  'user.otp_email_added',
  'user.otp_email_removed',
  'user.passkey_added',
  'user.passkey_removed',
  'user.passkey_counter_regressed',
  'user.passkey_verified',
  'user.logged_in',
  'user.reauthenticated',
  'user.login_failed',
  'user.session_revoked',
  'user.refresh_token_reused',
  'webhook.test',
  'webhook_app.disabled',
  'webhook_app.created',
  'webhook_app.updated',
  'webhook_app.deleted',
  'webhook_app.secret_rotated',
] as const;

export type EventType = (typeof eventTypes)[number];

/** `user.password_changed` → `USER_PASSWORD_CHANGED` */
export function graphqlEventName(type: EventType): string {
  return type.replace(/\./g, '_').toUpperCase();
}

const byGraphqlName = new Map<string, EventType>(eventTypes.map((t) => [graphqlEventName(t), t]));

/** `USER_PASSWORD_CHANGED` → `user.password_changed` */
export function wireEventType(graphqlName: string): EventType {
  const t = byGraphqlName.get(graphqlName);
  if (!t) throw new Error(`unknown event type ${graphqlName}`);
  return t;
}

export function isEventType(value: string): value is EventType {
  return (eventTypes as readonly string[]).includes(value);
}
