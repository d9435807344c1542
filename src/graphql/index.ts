/** Builds the executable schema: importing the type files registers them on the builder. */
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import './errors.js';
import '../modules/auth-methods/schema.js';
import '../modules/password/schema.js';
import '../modules/totp/schema.js';
import '../modules/events/schema.js';
import '../modules/users/schema.js';
import '../modules/users/contacts.schema.js';
import '../modules/otp/schema.js';
import '../modules/sessions/schema.js';
import '../modules/sign-in/schema.js';
import '../modules/webhooks/schema.js';
import '../modules/events/subscriptions.schema.js';
import '../modules/passkeys/schema.js';

let schema: GraphQLSchema | undefined;

export function getSchema(): GraphQLSchema {
  schema ??= builder.toSchema();
  return schema;
}

/** The SDL committed as schema.graphql. */
export function printSchemaSdl(): string {
  return `${printSchema(lexicographicSortSchema(getSchema()))}\n`;
}
