import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, decryptSecret, encryptSecret, hashCode, randomDigits, randomReadableCode } from './crypto.js';

describe('secret encryption', () => {
  const key = randomBytes(32);

  it('round-trips and never contains the plaintext', () => {
    const sealed = encryptSecret(key, 'JBSWY3DPEHPK3PXP', 'am_1');
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(decryptSecret(key, sealed, 'am_1')).toBe('JBSWY3DPEHPK3PXP');
    expect(encryptSecret(key, 'x')).not.toBe(encryptSecret(key, 'x'));
  });

  it('refuses another key, another owner and a tampered value', () => {
    const sealed = encryptSecret(key, 'secret', 'owner-a');
    expect(() => decryptSecret(randomBytes(32), sealed, 'owner-a')).toThrow();
    expect(() => decryptSecret(key, sealed, 'owner-b')).toThrow();
    const parts = sealed.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    expect(() => decryptSecret(key, parts.join('.'), 'owner-a')).toThrow();
  });
});

describe('codes', () => {
  it('hashes codes under a key and a context', () => {
    const key = randomBytes(32);
    expect(hashCode(key, '123456', 'a')).toBe(hashCode(key, '123456', 'a'));
    expect(hashCode(key, '123456', 'a')).not.toBe(hashCode(key, '123456', 'b'));
    expect(hashCode(key, '123456')).not.toBe(hashCode(randomBytes(32), '123456'));
  });

  it('compares in constant time and handles different lengths', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });

  it('makes random codes of the asked length and alphabet', () => {
    expect(randomDigits(6)).toMatch(/^\d{6}$/);
    expect(randomReadableCode(10)).toMatch(/^[0-9A-HJKMNP-TV-Z]{10}$/);
    expect(new Set(Array.from({ length: 50 }, () => randomDigits(8))).size).toBeGreaterThan(45);
  });
});
