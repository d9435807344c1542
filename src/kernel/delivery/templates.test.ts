import { describe, expect, it } from 'vitest';
import { messages, renderTemplate, resolveLocale } from './templates.js';

describe('templates', () => {
  it('falls back from region to language, then to the default, then to English', () => {
    expect(resolveLocale('de-AT', 'en')).toBe('de');
    expect(resolveLocale('DE', 'en')).toBe('de');
    expect(resolveLocale('xx', 'de')).toBe('de');
    expect(resolveLocale(null, 'fr')).toBe('en');
    expect(resolveLocale('__proto__', 'en')).toBe('en');
  });

  it('names the product, the code and its lifetime, rounding minutes up', () => {
    const m = renderTemplate('otp_sign_in', { code: '123456', ttlSeconds: 90, productName: 'Acme' }, 'en');
    expect(m.subject).toBe('Acme: your sign-in code');
    expect(m.text).toBe('Your Acme sign-in code is 123456. It expires in 2 minutes. Never share it with anyone.');
  });

  it('puts the passkey registration link in its message, in every language', () => {
    const link = 'https://app.example.com/passkeys?user=usr_1&code=ABCDEFGHJKMNPQRSTVWX';
    for (const locale of Object.keys(messages)) {
      const m = renderTemplate('passkey_registration_link', { code: 'ABCDEFGHJKMNPQRSTVWX', link, ttlSeconds: 600, productName: 'Acme' }, locale);
      expect(m.text, locale).toContain(`${link} `);
      expect(m.text, locale).toContain('10');
    }
    expect(renderTemplate('passkey_registration_link', { code: 'X', link, ttlSeconds: 600, productName: 'Acme' }, 'en').subject).toBe('Acme: add a passkey');
  });

  it('has every template in every language', () => {
    const templates = Object.keys(messages.en).sort();
    for (const [locale, catalog] of Object.entries(messages)) {
      expect(Object.keys(catalog).sort(), locale).toEqual(templates);
      for (const name of templates) {
        const m = renderTemplate(name as keyof typeof catalog, { code: '987654', ttlSeconds: 600, productName: 'Acme' }, locale);
        expect(m.text).toContain('987654');
        expect(m.text).toContain('10');
        expect(m.subject).toContain('Acme');
      }
    }
  });
});
