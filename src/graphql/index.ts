/**
 * Builds the executable schema: each module's schema files register their
 * types and fields on the builder when imported (modules/index.ts lists the
 * modules; each manifest names its schema files).
 */
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { modules } from '../modules/index.js';
import { builder } from './builder.js';
import './errors.js';

let schema: Promise<GraphQLSchema> | undefined;

export function loadSchema(): Promise<GraphQLSchema> {
  schema ??= (async () => {
    for (const m of modules) await m.schema?.();
    return builder.toSchema();
  })();
  return schema;
}

/** The SDL committed as schema.graphql. */
export async function printSchemaSdl(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await loadSchema()))}\n`;
}
