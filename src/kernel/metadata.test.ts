import { describe, expect, it } from 'vitest';
import { applyMetadataChange, changedKeys, mergePatch, METADATA_MAX_BYTES } from './metadata.js';

/** Nested objects `levels` deep: {"a":{"a":…{"a":1}}}. */
const nested = (levels: number): Record<string, unknown> => (levels === 1 ? { a: 1 } : { a: nested(levels - 1) });

const fields = { public: 'public', private: 'private' };
const empty = { public: {}, private: {} };

describe('mergePatch (RFC 7396)', () => {
  // The examples of RFC 7396, appendix A.
  it.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])('%j patched with %j is %j', (target, patch, result) => {
    expect(mergePatch(target, patch)).toEqual(result);
  });

  it('leaves the target as it was, and keeps a key named __proto__ a key', () => {
    const target = { a: { b: 1 } };
    const merged = mergePatch(target, JSON.parse('{"a":{"c":2},"__proto__":{"polluted":true}}')) as Record<string, unknown>;
    expect(target).toEqual({ a: { b: 1 } });
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(merged)).toBe('{"a":{"b":1,"c":2},"__proto__":{"polluted":true}}');
  });
});

describe('applyMetadataChange', () => {
  it('merges or replaces the parts given and says which changed', () => {
    const current = { public: { a: 1, b: { c: 2 } }, private: { x: 1 } };
    const merged = applyMetadataChange({ current, changes: { public: { b: { d: 3 }, a: null } }, mode: 'MERGE', fields });
    expect(merged).toEqual({ next: { public: { b: { c: 2, d: 3 } }, private: { x: 1 } }, changed: ['public'] });
    const replaced = applyMetadataChange({ current, changes: { private: { y: 2 }, public: null }, mode: 'REPLACE', fields });
    expect(replaced).toEqual({ next: { public: current.public, private: { y: 2 } }, changed: ['private'] });
    expect(applyMetadataChange({ current, changes: { public: { a: 1 } }, mode: 'MERGE', fields }).changed).toEqual([]);
  });

  it('refuses a key named __proto__ at any level (Prisma would drop it without a word)', () => {
    for (const bad of ['{"__proto__":{"admin":true}}', '{"a":[{"b":{"__proto__":1}}]}']) {
      expect(() => applyMetadataChange({ current: empty, changes: { public: JSON.parse(bad) }, mode: 'MERGE', fields })).toThrow(expect.objectContaining({ field: 'public', message: expect.stringContaining('__proto__') }));
    }
    expect(applyMetadataChange({ current: empty, changes: { public: { constructor: { prototype: 1 } } }, mode: 'MERGE', fields }).changed).toEqual(['public']);
  });

  it('refuses a part that is not an object, naming its field', () => {
    for (const bad of [[1], 'x', 3, true]) {
      expect(() => applyMetadataChange({ current: empty, changes: { private: bad }, mode: 'MERGE', fields })).toThrow(
        expect.objectContaining({ code: 'INVALID_INPUT', field: 'private' }),
      );
    }
  });

  it('allows 8 levels and refuses 9, as given or once merged, arrays counting as a level', () => {
    expect(applyMetadataChange({ current: empty, changes: { public: nested(8) }, mode: 'REPLACE', fields }).changed).toEqual(['public']);
    expect(() => applyMetadataChange({ current: empty, changes: { public: nested(9) }, mode: 'REPLACE', fields })).toThrow(expect.objectContaining({ field: 'public' }));
    expect(() => applyMetadataChange({ current: empty, changes: { public: { a: [[[[[[[[1]]]]]]]] } }, mode: 'MERGE', fields })).toThrow(/deeper than 8/);
    // A merge result is never deeper than what was stored and the patch; metadata stored before the rule (deeper) is refused once merged.
    const legacy = { public: { old: nested(9) }, private: {} };
    expect(() => applyMetadataChange({ current: legacy, changes: { public: { plan: 'pro' } }, mode: 'MERGE', fields })).toThrow(/once merged nests deeper than 8/);
    expect(applyMetadataChange({ current: legacy, changes: { public: { old: null } }, mode: 'MERGE', fields }).next.public).toEqual({});
  });

  it('counts every part toward 8 KB, in UTF-8 bytes, and names the largest part being changed', () => {
    const blob = (bytes: number) => ({ v: 'x'.repeat(bytes - '{"v":""}'.length) });
    const half = METADATA_MAX_BYTES / 2;
    expect(applyMetadataChange({ current: empty, changes: { public: blob(half), private: blob(half) }, mode: 'REPLACE', fields }).changed).toEqual(['public', 'private']);
    expect(() => applyMetadataChange({ current: empty, changes: { public: blob(half), private: blob(half + 1) }, mode: 'REPLACE', fields })).toThrow(
      expect.objectContaining({ field: 'private', message: expect.stringContaining('at most 8192 bytes') }),
    );
    // The part not given counts too.
    expect(() => applyMetadataChange({ current: { public: blob(half), private: {} }, changes: { private: blob(half + 1) }, mode: 'MERGE', fields })).toThrow(
      expect.objectContaining({ field: 'private' }),
    );
    // é is two bytes.
    expect(() => applyMetadataChange({ current: empty, changes: { public: { v: 'é'.repeat(4093) } }, mode: 'REPLACE', fields })).toThrow(expect.objectContaining({ field: 'public' }));
  });

  it('keeps the keys copied into tokens within their budget', () => {
    const tokenKeys = { part: 'public' as const, keys: ['plan'] };
    expect(() => applyMetadataChange({ current: empty, changes: { public: { plan: 'x'.repeat(1200) } }, mode: 'MERGE', fields, tokenKeys })).toThrow(/copied into access tokens/);
    expect(applyMetadataChange({ current: empty, changes: { public: { other: 'x'.repeat(1200) } }, mode: 'MERGE', fields, tokenKeys }).changed).toEqual(['public']);
  });
});

it('changedKeys names keys added, changed and removed', () => {
  expect(changedKeys({ a: 1, b: { c: 1 }, d: 1 }, { a: 1, b: { c: 2 }, e: null })).toEqual(['b', 'd', 'e']);
});
