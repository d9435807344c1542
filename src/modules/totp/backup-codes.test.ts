import { describe, expect, it } from 'vitest';
import { generateBackupCode, normalizeBackupCode } from './backup-codes.js';

describe('backup code format', () => {
  it('generates readable XXXXX-XXXXX codes from the Crockford alphabet, all different', () => {
    const codes = Array.from({ length: 200 }, generateBackupCode);
    for (const c of codes) expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('normalizes what people type: case, spaces, dashes and look-alike letters', () => {
    expect(normalizeBackupCode('abcde-fghjk')).toBe('ABCDEFGHJK');
    expect(normalizeBackupCode(' ABCDE FGHJK ')).toBe('ABCDEFGHJK');
    expect(normalizeBackupCode('O0IL1-23456')).toBe('00111' + '23456');
    expect(normalizeBackupCode('123456')).toBeNull();
    expect(normalizeBackupCode('ABCDE-FGHJKU')).toBeNull();
  });
});
