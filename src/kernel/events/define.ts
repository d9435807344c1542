/**
 * Typed events: each module declares the payload of each event type it
 * records once, as a zod schema. The schema gives the TypeScript type the
 * outbox checks at every producer, the runtime check made outside production,
 * and the JSON Schema published for webhook receivers.
 */
import { z } from 'zod';

export type EventSchemas = Record<string, z.ZodType<object>>;

/** A module's event types and their payloads (wire names: dotted lower case). */
export function defineEvents<const S extends EventSchemas>(schemas: S): S {
  for (const type of Object.keys(schemas)) {
    if (!/^[a-z_]+\.[a-z_]+$/.test(type)) throw new Error(`event type ${type} is not dotted lower case`);
  }
  return schemas;
}

/** The payload types of a set of schemas, as the producers write them. */
export type PayloadsOf<S extends EventSchemas> = { [K in keyof S]: z.input<S[K]> };

/** `user.password_changed` → `USER_PASSWORD_CHANGED` (the GraphQL enum value). */
export function graphqlEventName(type: string): string {
  return type.replace(/\./g, '_').toUpperCase();
}
