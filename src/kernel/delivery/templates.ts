/**
 * Message templates per locale. To add a language, add an entry to `messages`
 * with every template; a locale missing here falls back to its language
 * (`fr-CA` → `fr`), then to the configured default, then to English.
 */
import type { TemplateName, TemplateParams } from './types.js';

interface Rendered {
  subject: string;
  text: string;
}

type Vars = TemplateParams & { productName: string; minutes: number };

/** A lifetime for people: minutes, then hours, then days (rounded down past an hour, so never longer than the truth by much). */
function lifetime(minutes: number, units: { minutes: string; hours: string; days: string }): string {
  if (minutes >= 2 * 1440) return `${Math.floor(minutes / 1440)} ${units.days}`;
  if (minutes >= 120) return `${Math.floor(minutes / 60)} ${units.hours}`;
  return `${minutes} ${units.minutes}`;
}
type Catalog = Record<TemplateName, (v: Vars) => Rendered>;

const en: Catalog = {
  verify_email: (v) => ({
    subject: `${v.productName}: confirm your email address`,
    text: `Your ${v.productName} verification code is ${v.code}. It expires in ${v.minutes} minutes. If you did not ask for it, ignore this message.`,
  }),
  verify_phone: (v) => ({
    subject: `${v.productName}: confirm your phone number`,
    text: `Your ${v.productName} verification code is ${v.code}. It expires in ${v.minutes} minutes.`,
  }),
  otp_sign_in: (v) => ({
    subject: `${v.productName}: your sign-in code`,
    text: `Your ${v.productName} sign-in code is ${v.code}. It expires in ${v.minutes} minutes. Never share it with anyone.`,
  }),
  password_reset: (v) => ({
    subject: `${v.productName}: reset your password`,
    text: `Your ${v.productName} password reset code is ${v.code}. It expires in ${v.minutes} minutes. If you did not ask for it, ignore this message.`,
  }),
  passkey_registration_link: (v) => ({
    subject: `${v.productName}: add a passkey`,
    text: `Open this link to add a passkey to your ${v.productName} account: ${v.link ?? v.code} It works once and expires in ${v.minutes} minutes. If you did not ask for it, ignore this message.`,
  }),
  organization_invitation: (v) => ({
    subject: `${v.productName}: you are invited to join ${v.organizationName ?? 'an organization'}`,
    text: `You are invited to join ${v.organizationName ?? 'an organization'} on ${v.productName}. Sign in with this email address and open this link to accept: ${v.link ?? v.code} It expires in ${lifetime(v.minutes, { minutes: 'minutes', hours: 'hours', days: 'days' })}. If you did not expect it, ignore this message.`,
  }),
};

const de: Catalog = {
  verify_email: (v) => ({
    subject: `${v.productName}: Bestätigen Sie Ihre E-Mail-Adresse`,
    text: `Ihr ${v.productName}-Bestätigungscode lautet ${v.code}. Er ist ${v.minutes} Minuten gültig. Wenn Sie ihn nicht angefordert haben, ignorieren Sie diese Nachricht.`,
  }),
  verify_phone: (v) => ({
    subject: `${v.productName}: Bestätigen Sie Ihre Telefonnummer`,
    text: `Ihr ${v.productName}-Bestätigungscode lautet ${v.code}. Er ist ${v.minutes} Minuten gültig.`,
  }),
  otp_sign_in: (v) => ({
    subject: `${v.productName}: Ihr Anmeldecode`,
    text: `Ihr ${v.productName}-Anmeldecode lautet ${v.code}. Er ist ${v.minutes} Minuten gültig. Geben Sie ihn niemals weiter.`,
  }),
  password_reset: (v) => ({
    subject: `${v.productName}: Passwort zurücksetzen`,
    text: `Ihr ${v.productName}-Code zum Zurücksetzen des Passworts lautet ${v.code}. Er ist ${v.minutes} Minuten gültig. Wenn Sie ihn nicht angefordert haben, ignorieren Sie diese Nachricht.`,
  }),
  passkey_registration_link: (v) => ({
    subject: `${v.productName}: Passkey hinzufügen`,
    text: `Öffnen Sie diesen Link, um Ihrem ${v.productName}-Konto einen Passkey hinzuzufügen: ${v.link ?? v.code} Er funktioniert einmal und ist ${v.minutes} Minuten gültig. Wenn Sie ihn nicht angefordert haben, ignorieren Sie diese Nachricht.`,
  }),
  organization_invitation: (v) => ({
    subject: `${v.productName}: Einladung zu ${v.organizationName ?? 'einer Organisation'}`,
    text: `Sie sind eingeladen, ${v.organizationName ?? 'einer Organisation'} bei ${v.productName} beizutreten. Melden Sie sich mit dieser E-Mail-Adresse an und öffnen Sie diesen Link, um die Einladung anzunehmen: ${v.link ?? v.code} Er ist ${lifetime(v.minutes, { minutes: 'Minuten', hours: 'Stunden', days: 'Tage' })} gültig. Wenn Sie keine Einladung erwartet haben, ignorieren Sie diese Nachricht.`,
  }),
};

export const messages: Record<string, Catalog> = { en, de };

/** The locale actually used for a requested one. */
export function resolveLocale(requested: string | null | undefined, defaultLocale: string): string {
  for (const candidate of [requested, requested?.split('-')[0], defaultLocale, defaultLocale.split('-')[0]]) {
    const key = candidate?.toLowerCase();
    if (key && Object.hasOwn(messages, key)) return key;
  }
  return 'en';
}

export function renderTemplate(template: TemplateName, params: TemplateParams & { productName: string }, locale: string): Rendered {
  // Round up, so "expires in 1 minute" is never shorter than the truth.
  const minutes = Math.max(1, Math.ceil(params.ttlSeconds / 60));
  return messages[locale][template]({ ...params, minutes });
}
