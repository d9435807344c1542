/** Builds the executable schema: importing the type files registers them on the builder. */
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import './types/errors.js';
import './types/auth-method.js';
import './types/credentials.js';
import './types/event.js';
import './types/user.js';
import './types/contacts.js';
import './types/otp.js';
import './types/sessions.js';
import './types/login.js';
import './types/webhook-app.js';
import './types/subscriptions.js';
import './types/webauthn.js';

let schema: GraphQLSchema | undefined;

export function getSchema(): GraphQLSchema {
  schema ??= builder.toSchema();
  return schema;
}

/** The SDL committed as schema.graphql. */
export function printSchemaSdl(): string {
  return `${printSchema(lexicographicSortSchema(getSchema()))}\n`;
}
