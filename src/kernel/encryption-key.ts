/**
 * The key for secrets at rest (TOTP secrets, webhook secrets, signing keys).
 * From PORTCULLIS_ENCRYPTION_KEY when given; otherwise generated once into the
 * data folder (mode 0600) so an embedded install needs no setup.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config.js';
import type { Logger } from './logger.js';

export function resolveEncryptionKey(given: Buffer | undefined, dataDir: string, logger: Logger): Buffer {
  if (given) return given;
  const file = path.join(dataDir, 'encryption.key');
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new ConfigError('PORTCULLIS_ENCRYPTION_KEY', `the key in ${file} is not 32 bytes of base64`);
    return key;
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  logger.warn({ file }, 'generated an encryption key for secrets at rest; back it up, or set PORTCULLIS_ENCRYPTION_KEY');
  return key;
}
