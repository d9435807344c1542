/**
 * An independent TOTP (RFC 6238 / RFC 4226) on node:crypto, for tests: codes
 * computed without otplib, so the gateway is checked against another
 * implementation, not against itself.
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import type { SystemTool } from './system-tools.js';

/** RFC 4648 base32 decoding. */
export function base32Decode(base32: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  return Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
}

export function referenceHotp(seed: Buffer, counter: number, digits = 6): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', seed).update(msg).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits).padStart(digits, '0');
}

/** The code for a base32 secret at a time (30-second steps). */
export function referenceTotp(base32: string, at: Date, digits = 6): string {
  return referenceHotp(base32Decode(base32), Math.floor(at.getTime() / 30_000), digits);
}

/** RFC 6238 Appendix B, SHA1: the seed is the ASCII string "12345678901234567890". */
export const RFC6238_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
export const RFC6238_VECTORS: Array<[seconds: number, code8: string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

/** oathtool (Debian package oathtool) is an independent C implementation; OATHTOOL_PATH or `oathtool` on PATH, as `.ci/run` checks. */
const oathtoolPath = process.env.OATHTOOL_PATH ?? 'oathtool';

export const oathtool: SystemTool = {
  name: 'oathtool',
  where: oathtoolPath,
  present: (() => {
    try {
      execFileSync(oathtoolPath, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })(),
  install: 'apt-get install oathtool',
};

export function oathtoolTotp(base32: string, at: Date): string {
  return execFileSync(oathtoolPath, ['--totp', '-b', '-d', '6', '-N', `@${Math.floor(at.getTime() / 1000)}`, base32], { encoding: 'utf8' }).trim();
}
