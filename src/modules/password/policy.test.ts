import { describe, expect, it } from 'vitest';
import { checkPassword } from './policy.js';

const policy = { minLength: 8, maxLength: 64, rejectCommon: true };

describe('password policy (NIST SP 800-63B)', () => {
  it('accepts a long unusual password without composition rules', () => {
    expect(checkPassword('purple monkey dishwasher', policy)).toEqual([]);
    expect(checkPassword('alllowercaseletters', policy)).toEqual([]);
  });

  it('refuses short and long passwords, counting characters not UTF-16 units', () => {
    expect(checkPassword('zq9!x', policy)).toEqual(['must be at least 8 characters']);
    expect(checkPassword('x'.repeat(65), policy)).toEqual(['must be at most 64 characters']);
    // Seven emoji are 14 UTF-16 units but 7 characters.
    expect(checkPassword('😀'.repeat(7), policy)).toEqual(['must be at least 8 characters']);
  });

  it('refuses common passwords from the shipped list, ignoring case, and can be switched off', () => {
    for (const pw of ['password', 'PASSWORD1', '12345678', 'qwertyuiop', 'iloveyou']) {
      expect(checkPassword(pw, policy)).toContain('is one of the most commonly used passwords');
    }
    expect(checkPassword('password', { ...policy, rejectCommon: false })).toEqual([]);
  });

  it('returns every reason at once', () => {
    expect(checkPassword('123456', policy)).toEqual(['must be at least 8 characters', 'is one of the most commonly used passwords']);
  });
});
