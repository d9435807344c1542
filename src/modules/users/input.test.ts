import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../kernel/errors.js';
import { maskEmail, maskPhone } from '../../kernel/masking.js';
import { normalizeEmail, normalizePhone, normalizeUsername, phoneRegion } from './input.js';

describe('user input', () => {
  it('trims emails and keeps a lower-cased key', () => {
    expect(normalizeEmail('  Ada@Example.COM ')).toEqual({ email: 'Ada@Example.COM', emailNormalized: 'ada@example.com' });
    expect(() => normalizeEmail('ada@')).toThrow(InvalidInputError);
    expect(() => normalizeEmail(`${'a'.repeat(250)}@x.io`)).toThrow(InvalidInputError);
  });

  it('parses phones into E.164, with a default region for national numbers', () => {
    expect(normalizePhone('+1 (415) 555-0123')).toBe('+14155550123');
    expect(normalizePhone('020 7946 0958', 'GB')).toBe('+442079460958');
    expect(() => normalizePhone('020 7946 0958')).toThrow(/phone/);
    expect(() => normalizePhone('+1 555')).toThrow(InvalidInputError);
  });

  it('takes a country for national numbers, and refuses unknown ones naming the field', () => {
    expect(phoneRegion(' de ', 'country', 'US')).toBe('DE');
    expect(phoneRegion(undefined, 'country', 'US')).toBe('US');
    expect(phoneRegion(null, 'country')).toBeUndefined();
    for (const bad of ['XX', 'DEU', 'D', '', 'AQ']) {
      expect(() => phoneRegion(bad, 'phoneCountry', 'US')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', field: 'phoneCountry' }));
    }
    expect(normalizePhone('030 12345678', phoneRegion('DE', 'country'))).toBe('+493012345678');
  });

  it('accepts plain usernames', () => {
    expect(normalizeUsername('Ada.L')).toEqual({ username: 'Ada.L', usernameNormalized: 'ada.l' });
    expect(() => normalizeUsername('ada lovelace')).toThrow(InvalidInputError);
  });
});

describe('masking', () => {
  it('shows enough to recognise an address and no more', () => {
    expect(maskEmail('jane.doe@example.com')).toBe('j•••@example.com');
    expect(maskPhone('+14155550123')).toBe('+1 ••• ••• 0123');
    expect(maskPhone('+442079460958')).toMatch(/^\+44 ••• ••• 0958$/);
    expect(maskEmail(null)).toBeNull();
  });
});
