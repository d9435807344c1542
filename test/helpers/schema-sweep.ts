/**
 * Calls any root field of the schema with well-formed arguments, for tests
 * that walk every operation (authorization runs before a resolver looks at
 * the values, so any well-formed value will do).
 */
import {
  getNamedType,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  isCompositeType,
  parse,
  type GraphQLArgument,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLScalarType,
  type GraphQLSchema,
} from 'graphql';
import type { TestApp } from './app.js';

export type RootKind = 'query' | 'mutation' | 'subscription';

/** A syntactically valid value for an input type; fields named like ids get `id`. */
export function sample(type: GraphQLInputType, id: string, field = ''): unknown {
  if (type instanceof GraphQLNonNull) return sample(type.ofType, id, field);
  if (type instanceof GraphQLList) return [sample(type.ofType, id, field)];
  if (type instanceof GraphQLInputObjectType) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(type.getFields())) {
      if (f.name === 'userId') out.userId = id;
      else if (f.type instanceof GraphQLNonNull) out[f.name] = sample(f.type, id, f.name);
    }
    return out;
  }
  if (type instanceof GraphQLEnumType) return type.getValues()[0].name;
  const scalar = type as GraphQLScalarType;
  if (scalar.name === 'Int' || scalar.name === 'Float') return 1;
  if (scalar.name === 'Boolean') return false;
  if (scalar.name === 'DateTime') return new Date(Date.now() + 86_400_000).toISOString();
  if (scalar.name === 'JSON') return {};
  return /ids?$/i.test(field) ? id : 'x';
}

function argsFor(args: readonly GraphQLArgument[], id: string) {
  const vars: Record<string, unknown> = {};
  for (const a of args) if (a.type instanceof GraphQLNonNull || a.name === 'userId') vars[a.name] = a.name === 'userId' ? id : sample(a.type, id, a.name);
  return vars;
}

function operation(kind: RootKind, field: string, args: readonly GraphQLArgument[], vars: Record<string, unknown>, type: GraphQLOutputType) {
  const used = args.filter((a) => a.name in vars);
  const decl = used.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const call = used.map((a) => `${a.name}: $${a.name}`).join(', ');
  // Scalar answers (can, effectivePermissions) take no selection.
  const selection = isCompositeType(getNamedType(type)) ? ' { __typename }' : '';
  return parse(`${kind} ${decl ? `(${decl})` : ''} { ${field}${call ? `(${call})` : ''}${selection} }`);
}

export function rootType(schema: GraphQLSchema, kind: RootKind) {
  return kind === 'query' ? schema.getQueryType()! : kind === 'mutation' ? schema.getMutationType()! : schema.getSubscriptionType()!;
}

/** Every root field as [kind, name]. */
export function rootFields(schema: GraphQLSchema): Array<[RootKind, string]> {
  return (['query', 'mutation', 'subscription'] as const).flatMap((kind) => Object.keys(rootType(schema, kind).getFields()).map((name): [RootKind, string] => [kind, name]));
}

export interface Answer {
  errors: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

/**
 * Runs one root field with `token`, naming `id` wherever an id goes. A
 * subscription's first result is its answer (a refused one is an error at once).
 */
export async function callField(t: TestApp, schema: GraphQLSchema, kind: RootKind, name: string, id: string, token: string): Promise<Answer> {
  const field = rootType(schema, kind).getFields()[name];
  const vars = argsFor(field.args, id);
  const result = (await t.exec(operation(kind, name, field.args, vars, field.type) as never, vars as never, { token })) as unknown;
  if (result && typeof result === 'object' && Symbol.asyncIterator in result) {
    const iterator = (result as AsyncIterable<Answer>)[Symbol.asyncIterator]();
    const first = await iterator.next();
    await iterator.return?.();
    return { errors: (first.value as Partial<Answer> | undefined)?.errors ?? [] };
  }
  return { errors: (result as Partial<Answer>).errors ?? [] };
}
