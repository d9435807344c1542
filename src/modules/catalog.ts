/**
 * The event catalog: every event type the gateway records, gathered from the
 * modules' events.ts (a test checks it holds exactly the events the module
 * manifests declare; typed spreads here keep every payload's type). On the wire (webhook bodies, the database) types are
 * dotted lower case; in GraphQL the same names are upper snake case
 * (`user.locked` ⇄ USER_LOCKED). docs/events.md and GET /events/schema.json
 * are made from this list.
 */
import { z } from 'zod';
import { graphqlEventName, type PayloadsOf } from '../kernel/events/define.js';
import { createOutbox, type NewEvent } from '../kernel/events/outbox.js';
import type { Config } from '../config.js';
import { accessTokenEvents } from './access-tokens/events.js';
import { authMethodEvents } from './auth-methods/events.js';
import { identityProviderEvents } from './identity-providers/events.js';
import { personalAccessTokenEvents } from './personal-access-tokens/events.js';
import { organizationEvents } from './organizations/events.js';
import { otpEvents } from './otp/events.js';
import { passkeyEvents } from './passkeys/events.js';
import { passwordEvents } from './password/events.js';
import { sessionEvents } from './sessions/events.js';
import { signInEvents } from './sign-in/events.js';
import { totpEvents } from './totp/events.js';
import { userEvents } from './users/events.js';
import { webhookEvents } from './webhooks/events.js';

export const eventSchemas = {
  ...userEvents,
  ...passwordEvents,
  ...totpEvents,
  ...otpEvents,
  ...passkeyEvents,
  ...authMethodEvents,
  ...sessionEvents,
  ...signInEvents,
  ...webhookEvents,
  ...organizationEvents,
  ...identityProviderEvents,
  ...accessTokenEvents,
  ...personalAccessTokenEvents,
};

export type EventType = keyof typeof eventSchemas;
export type EventPayloads = PayloadsOf<typeof eventSchemas>;
/** Any catalogued event with its own payload (for code that passes one along). */
export type CatalogEvent = { [T in EventType]: NewEvent<T, EventPayloads[T]> }[EventType];
/** The outbox of this gateway: it records only catalogued types, each with its payload. */
export type Outbox = ReturnType<typeof createOutbox<EventPayloads>>;

export const eventTypes = Object.keys(eventSchemas) as EventType[];

export { graphqlEventName };

const byGraphqlName = new Map<string, EventType>(eventTypes.map((t) => [graphqlEventName(t), t]));

/** `USER_PASSWORD_CHANGED` → `user.password_changed` */
export function wireEventType(graphqlName: string): EventType {
  const t = byGraphqlName.get(graphqlName);
  if (!t) throw new Error(`unknown event type ${graphqlName}`);
  return t;
}

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(eventSchemas, value);
}

/**
 * The outbox of this gateway. Outside production every payload is also
 * checked against its schema at run time, so a drifting producer fails its tests.
 */
export function createEventOutbox(deps: Omit<Parameters<typeof createOutbox>[0], 'check'> & { env: Config['env'] }): Outbox {
  const { env, ...rest } = deps;
  return createOutbox<EventPayloads>({ ...rest, check: env === 'production' ? undefined : checkEventPayload });
}

/** Checks a payload against its type's schema (the outbox does it outside production). */
export function checkEventPayload(type: string, data: unknown): void {
  if (!isEventType(type)) throw new Error(`unknown event type ${type}`);
  const result = eventSchemas[type].safeParse(data);
  if (!result.success) throw new Error(`event ${type} does not match its schema: ${result.error.message}`);
}

/**
 * One JSON Schema per event type, for the `data` of a webhook body or an
 * event row: served at GET /events/schema.json so receivers can validate
 * what they get.
 */
export function eventJsonSchemas(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Portcullis event payloads',
    description: 'The `data` of each event type, by its wire name. A webhook body is {"type", "timestamp", "data"}; user events also carry data.userId, organization events data.organizationId.',
    events: Object.fromEntries(eventTypes.map((t) => [t, z.toJSONSchema(eventSchemas[t], { io: 'input', unrepresentable: 'any' })])),
  };
}
