/**
 * The rules of metadata, one place for every owner (users: public, private
 * and unsafe; organizations: public and private): each part is a JSON
 * object, at most METADATA_MAX_DEPTH levels deep, and the parts of one owner
 * together at most METADATA_MAX_BYTES once serialized (Clerk's 8 KB). A
 * change either replaces a part or merges into it as a JSON merge patch
 * (RFC 7396): a key set to null is deleted, nested objects merge, anything
 * else (arrays included) replaces the value.
 */
import { InvalidInputError } from './errors.js';

/** The parts of one owner together, serialized as JSON, in UTF-8 bytes. */
export const METADATA_MAX_BYTES = 8 * 1024;
/** Levels of nesting: `{}` has depth 1, `{"a":{"b":1}}` depth 2; arrays count as a level. */
export const METADATA_MAX_DEPTH = 8;
/** The values of the keys copied into access tokens, together: Clerk's advice for session tokens (cookies hold 4 KB). */
export const TOKEN_METADATA_MAX_BYTES = 1200;

export type JsonObject = { [key: string]: unknown };
export type MetadataMode = 'MERGE' | 'REPLACE';

export const isJsonObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

/**
 * What is wrong with the shape of `value`, if anything: nesting deeper than
 * `max` levels (it stops looking there), or a key named `__proto__`, which
 * Prisma's JSON writer drops without a word and JavaScript readers turn
 * into a prototype.
 */
function shapeProblem(value: unknown, max: number): 'depth' | 'proto' | null {
  if (value === null || typeof value !== 'object') return null;
  if (max === 0) return 'depth';
  if (!Array.isArray(value) && Object.hasOwn(value, '__proto__')) return 'proto';
  for (const child of Array.isArray(value) ? value : Object.values(value)) {
    const problem = shapeProblem(child, max - 1);
    if (problem) return problem;
  }
  return null;
}

/**
 * RFC 7396 JSON merge patch: `patch` applied to `target`. Returns new
 * objects (the stored value is not touched). Keys are written as own data
 * properties, so a key named `__proto__` stays a key and never a prototype.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return patch;
  const result = new Map<string, unknown>(isJsonObject(target) ? Object.entries(target) : []);
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) result.delete(key);
    else result.set(key, mergePatch(result.get(key), value));
  }
  return Object.fromEntries(result);
}

/** The top-level keys whose values differ between two objects (added, changed or removed), sorted. */
export function changedKeys(before: JsonObject, after: JsonObject): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => !Object.hasOwn(before, k) || !Object.hasOwn(after, k) || JSON.stringify(before[k]) !== JSON.stringify(after[k])).sort();
}

/** A stored part as an object: a column never written (null) reads as {}. */
export const storedMetadata = (value: unknown): JsonObject => (isJsonObject(value) ? value : {});

/** InvalidInputError(field) unless `value` is a JSON object at most METADATA_MAX_DEPTH deep, without a `__proto__` key. */
function checkShape(field: string, value: unknown, what: string): JsonObject {
  if (!isJsonObject(value)) throw new InvalidInputError(field, `${field} must be a JSON object.`);
  const problem = shapeProblem(value, METADATA_MAX_DEPTH);
  if (problem === 'depth') throw new InvalidInputError(field, `${field} ${what} nests deeper than ${METADATA_MAX_DEPTH} levels (the object itself is level 1).`);
  if (problem === 'proto') throw new InvalidInputError(field, `${field} has a key named __proto__, which cannot be stored.`);
  return value;
}

export interface MetadataChange<P extends string> {
  /** Every part as stored now ({} for one never written). */
  current: Record<P, JsonObject>;
  /** The parts to change; absent (or null) leaves a part as it is. */
  changes: Partial<Record<P, unknown>>;
  mode: MetadataMode;
  /** The input field each part comes from, named by InvalidInputError. */
  fields: Record<P, string>;
  /** Copied into access tokens: these top-level keys of this part must stay within TOKEN_METADATA_MAX_BYTES. */
  tokenKeys?: { part: P; keys: readonly string[] };
}

/**
 * Applies a change to an owner's metadata and checks the result against the
 * rules. Returns every part as it is to be stored, and the parts whose value
 * changed. Throws InvalidInputError naming the field: a part that is not an
 * object or nests too deep (as given, or once merged); all parts together
 * above METADATA_MAX_BYTES (naming the largest part being changed); the
 * token keys above TOKEN_METADATA_MAX_BYTES.
 */
export function applyMetadataChange<P extends string>(change: MetadataChange<P>): { next: Record<P, JsonObject>; changed: P[] } {
  const parts = Object.keys(change.current) as P[];
  const next = { ...change.current };
  const given = parts.filter((p) => change.changes[p] != null);
  for (const part of given) {
    const field = change.fields[part];
    const patch = checkShape(field, change.changes[part], 'as given');
    next[part] = change.mode === 'REPLACE' ? patch : checkShape(field, mergePatch(change.current[part], patch), 'once merged');
  }
  const sizes = new Map(parts.map((p) => [p, bytes(next[p])]));
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  // The message gives no sizes: a user writing its unsafe part would learn the size of its private one.
  if (total > METADATA_MAX_BYTES && given.length) {
    const largest = given.reduce((a, b) => (sizes.get(b)! > sizes.get(a)! ? b : a));
    const names = parts.map((p) => change.fields[p]).join(', ');
    throw new InvalidInputError(
      change.fields[largest],
      `Metadata (${names} together) must be at most ${METADATA_MAX_BYTES} bytes once serialized as JSON; this change would make it larger.`,
    );
  }
  const tokenKeys = change.tokenKeys;
  if (tokenKeys && given.includes(tokenKeys.part)) {
    const copied = pickKeys(next[tokenKeys.part], tokenKeys.keys);
    const size = bytes(copied);
    if (size > TOKEN_METADATA_MAX_BYTES) {
      throw new InvalidInputError(
        change.fields[tokenKeys.part],
        `The keys copied into access tokens (${tokenKeys.keys.join(', ')}) must together be at most ${TOKEN_METADATA_MAX_BYTES} bytes once serialized; this change makes them ${size} bytes.`,
      );
    }
  }
  const changed = given.filter((p) => JSON.stringify(next[p]) !== JSON.stringify(change.current[p]));
  return { next, changed };
}

/** The listed top-level keys of an object that it has, in the listed order. */
export function pickKeys(value: JsonObject, keys: readonly string[]): JsonObject {
  return Object.fromEntries(keys.filter((k) => Object.hasOwn(value, k)).map((k) => [k, value[k]]));
}
