import { parsePhoneNumberFromString } from 'libphonenumber-js';

/** Masked contact details for display, so a screen or a log shows which address without revealing it. */

/** `jane.doe@example.com` → `j•••@example.com` */
export function maskEmail(email: string | null | undefined): string | null {
  if (!email) return null;
  const at = email.lastIndexOf('@');
  if (at < 1) return '•••';
  return `${email[0]}•••${email.slice(at)}`;
}

/** `+14155550123` → `+1 ••• ••• 0123`: the country calling code and the last four digits. */
export function maskPhone(phone: string | null | undefined): string | null {
  if (!phone) return null;
  const last = phone.replace(/\D/g, '').slice(-4);
  const country = parsePhoneNumberFromString(phone)?.countryCallingCode;
  return country ? `+${country} ••• ••• ${last}` : `••• ${last}`;
}
