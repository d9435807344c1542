/**
 * Small, pure credential primitives shared by the services: authenticated
 * encryption for secrets the gateway must read back (TOTP seeds, webhook
 * secrets, signing keys), keyed hashes for short codes, constant-time
 * comparison and random codes.
 */
import { createCipheriv, createDecipheriv, createHmac, hash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/** SHA-256 of a high-entropy token (refresh tokens, MFA tokens): how such tokens are stored and looked up. */
export function tokenHash(token: string): string {
  // One-shot: about a third of createHash's time for a short input, on every authenticated request.
  return hash('sha256', token, 'hex');
}

const VERSION = 'v1';

/** AES-256-GCM; the result is `v1.<iv>.<tag>.<ciphertext>` in base64url. `aad` binds it to its owner. */
export function encryptSecret(key: Buffer, plaintext: string, aad = ''): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), body].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

/** Throws when the value was tampered with, or encrypted under another key or owner. */
export function decryptSecret(key: Buffer, sealed: string, aad = ''): string {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== VERSION || !iv || !tag || body === undefined) throw new Error('not an encrypted secret');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}

/**
 * HMAC-SHA256 of a short code under the server key. A 6-digit code has too
 * little entropy for a plain hash to hide it from someone holding the
 * database; keyed, the stored value is useless without the key.
 */
export function hashCode(key: Buffer, code: string, context = ''): string {
  return createHmac('sha256', key).update(context).update('\0').update(code).digest('base64url');
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  // Compare equal-length buffers always, so the length check leaks nothing about content.
  const equal = timingSafeEqual(ab.length === bb.length ? ab : bb, bb);
  return equal && ab.length === bb.length;
}

/** A uniformly random string of decimal digits. */
export function randomDigits(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += randomInt(0, 10).toString();
  return out;
}

/** Crockford base32 without I, L, O, U: readable codes that survive being read aloud. */
const READABLE = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function randomReadableCode(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += READABLE[randomInt(0, READABLE.length)];
  return out;
}
