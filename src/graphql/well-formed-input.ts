/**
 * A Pothos plugin that refuses text the databases cannot store, at the edge of
 * every field with arguments: a NUL character (PostgreSQL's text and jsonb
 * reject U+0000) or an unpaired UTF-16 surrogate (not Unicode, so it has no
 * UTF-8 form and both drivers fail on it). Without it, such a string reaches
 * the database and comes back as a masked "Unexpected error." with stacks in
 * the log, from any field, anonymously through `login`.
 *
 * It also refuses a page size (`first`, `last`) above MAX_PAGE_SIZE.
 *
 * It wraps inside the errors plugin (it is registered after it), so a field
 * that declares InvalidInputError returns that union member; any other field
 * gets a GraphQLError with code BAD_USER_INPUT. Both name the argument path
 * (`input.identifier`) and never echo the value.
 */
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import { GraphQLError, type GraphQLFieldResolver } from 'graphql';
import { InvalidInputError } from '../kernel/errors.js';

const pluginName = 'wellFormedInput';
export default pluginName;

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      wellFormedInput: WellFormedInputPlugin<Types>;
    }
  }
}

// A NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one.
const MALFORMED = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function problemOf(text: string): string | undefined {
  const found = MALFORMED.exec(text)?.[0];
  if (found === undefined) return undefined;
  return found === '\0' ? 'contains a NUL character (U+0000)' : 'contains an unpaired UTF-16 surrogate, which is not valid Unicode';
}

/** GraphQL input objects are created without a prototype; JSON values are plain objects. Dates and the like are not walked. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === null || proto === Object.prototype;
}

/** The first string under `value` (input objects, lists, JSON keys and values) that cannot be stored, as an error naming its path. */
export function findMalformedText(value: unknown, path: string): InvalidInputError | undefined {
  if (typeof value === 'string') {
    const problem = problemOf(value);
    return problem ? new InvalidInputError(path, `${path} ${problem}.`) : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findMalformedText(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      // A JSON key is text the caller chose too: it is stored in jsonb like the values.
      const problem = problemOf(key);
      if (problem) return new InvalidInputError(path, `${path} has a key that ${problem}.`);
      const found = findMalformedText(item, `${path}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

/** The largest page a list gives (`first` or `last` of a connection). */
export const MAX_PAGE_SIZE = 500;

function checkArgs(args: object, declaresInvalidInput: boolean): void {
  for (const [name, value] of Object.entries(args)) {
    // A page larger than the limit is refused, not quietly cut: the caller would miss rows without knowing.
    if ((name === 'first' || name === 'last') && typeof value === 'number' && value > MAX_PAGE_SIZE) {
      throw new GraphQLError(`${name} may be at most ${MAX_PAGE_SIZE}; page through the rest with after/before.`, {
        extensions: { code: 'BAD_USER_INPUT', field: name, max: MAX_PAGE_SIZE },
      });
    }
    const error = findMalformedText(value, name);
    if (!error) continue;
    if (declaresInvalidInput) throw error;
    throw new GraphQLError(error.message, { extensions: { code: 'BAD_USER_INPUT', field: error.field } });
  }
}

export class WellFormedInputPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  /** Whether the errors plugin turns a thrown InvalidInputError into a union member on this field. */
  private declaresInvalidInput(fieldConfig: PothosOutputFieldConfig<Types>): boolean {
    const errorTypes = fieldConfig.extensions?.pothosErrors as Array<abstract new (...args: never[]) => unknown> | undefined;
    return !!errorTypes?.some((type) => InvalidInputError === type || InvalidInputError.prototype instanceof type);
  }

  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    // A subscription's arguments are checked once, in subscribe, not again for each event.
    if (Object.keys(fieldConfig.args).length === 0 || fieldConfig.kind === 'Subscription') return resolver;
    const declares = this.declaresInvalidInput(fieldConfig);
    return (parent, args, context, info) => {
      checkArgs(args, declares);
      return resolver(parent, args, context, info);
    };
  }

  override wrapSubscribe(
    subscribe: GraphQLFieldResolver<unknown, Types['Context'], object> | undefined,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> | undefined {
    if (!subscribe || Object.keys(fieldConfig.args).length === 0) return subscribe;
    const declares = this.declaresInvalidInput(fieldConfig);
    return (parent, args, context, info) => {
      checkArgs(args, declares);
      return subscribe(parent, args, context, info);
    };
  }
}

SchemaBuilder.registerPlugin(pluginName, WellFormedInputPlugin);
