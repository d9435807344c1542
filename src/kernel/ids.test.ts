import { describe, expect, it } from 'vitest';
import { kindOfId, newId } from './ids.js';

describe('newId', () => {
  it('makes prefixed, lower-case ULIDs that name their kind', () => {
    const id = newId('User');
    expect(id).toMatch(/^usr_[0-9a-hjkmnp-tv-z]{26}$/);
    expect(kindOfId(id)).toBe('User');
  });

  it('draws random parts that are unique and use every character equally often', () => {
    // 20,000 ids draw 320,000 random characters: many refills of the byte pool.
    const ids = Array.from({ length: 20_000 }, () => newId('UserEvent'));
    expect(new Set(ids).size).toBe(ids.length);
    const counts = new Map<string, number>();
    for (const id of ids) for (const c of id.slice(-16)) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(32);
    // Expected 10,000 each; a biased mapping (say bytes over 255, or modulo) shows far outside ±5%.
    for (const n of counts.values()) expect(Math.abs(n - 10_000)).toBeLessThan(500);
  });
});
