/**
 * Validation and normalisation of user profile fields, shared by every service
 * that writes them: emails are trimmed and compared lower-cased, phones are
 * stored in E.164, usernames are compared lower-cased.
 */
import { isSupportedCountry, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js';
import { z } from 'zod';
import { InvalidInputError } from '../../kernel/errors.js';

const emailSchema = z.email();
const usernameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/);

export function normalizeEmail(raw: string): { email: string; emailNormalized: string } {
  const email = raw.trim();
  if (email.length > 254 || !emailSchema.safeParse(email).success) {
    throw new InvalidInputError('email', 'Not a valid email address.');
  }
  return { email, emailNormalized: email.toLowerCase() };
}

export function normalizeUsername(raw: string): { username: string; usernameNormalized: string } {
  const username = raw.trim();
  if (!usernameSchema.safeParse(username).success) {
    throw new InvalidInputError('username', 'A username has 1 to 64 letters, digits, dots, dashes or underscores.');
  }
  return { username, usernameNormalized: username.toLowerCase() };
}

/**
 * The region national numbers are read in: `country` (ISO 3166-1 alpha-2, any
 * case) when given, else the configured default. An unknown code is refused
 * as InvalidInputError naming `field` (the input field that carried it).
 */
export function phoneRegion(country: string | null | undefined, field: string, defaultRegion?: string): CountryCode | undefined {
  if (country === null || country === undefined) return defaultRegion as CountryCode | undefined;
  const code = country.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(code) || !isSupportedCountry(code)) {
    throw new InvalidInputError(field, `${field} must be an ISO 3166-1 alpha-2 country code with a phone numbering plan, such as US or DE.`);
  }
  return code;
}

/** Parses a phone number into E.164; numbers without a country code are read in `region` (see phoneRegion). */
export function normalizePhone(raw: string, region?: string): string {
  const parsed = parsePhoneNumberFromString(raw.trim(), region as CountryCode | undefined);
  if (!parsed || !parsed.isValid()) {
    throw new InvalidInputError(
      'phone',
      region ? `Not a valid phone number in ${region} or in the international form (e.g. +14155550123).` : 'Not a valid phone number; use the international form, e.g. +14155550123, or give its country.',
    );
  }
  return parsed.number;
}

const nameSchema = z.string().max(200);

export function checkName(field: string, value: string): string {
  const v = value.trim();
  if (!nameSchema.safeParse(v).success) throw new InvalidInputError(field, `${field} is longer than 200 characters.`);
  return v;
}
