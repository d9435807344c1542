import { describe, expect, it } from 'vitest';
import { base32Decode, oathtool, oathtoolTotp, referenceHotp, RFC6238_SECRET, RFC6238_VECTORS } from '../../../test/helpers/totp.js';
import { needTool } from '../../../test/helpers/system-tools.js';
import { generateTotpSecret, matchTotpStep, totpCode, totpStep, totpUri } from './service.js';

describe('TOTP primitives', () => {
  it('match the RFC 6238 SHA1 test vectors (8 and 6 digits)', () => {
    for (const [seconds, code8] of RFC6238_VECTORS) {
      const step = totpStep(new Date(seconds * 1000));
      expect(totpCode(RFC6238_SECRET, step, 8)).toBe(code8);
      expect(totpCode(RFC6238_SECRET, step)).toBe(code8.slice(2));
    }
  });

  it('agree with an independent HOTP implementation on random secrets', () => {
    for (let i = 0; i < 20; i++) {
      const secret = generateTotpSecret();
      const step = 50_000_000 + i * 7919;
      expect(totpCode(secret, step)).toBe(referenceHotp(base32Decode(secret), step));
    }
  });

  it('accepts the window either side and nothing beyond it, returning the matched step', () => {
    const secret = generateTotpSecret();
    const now = new Date('2026-01-01T00:00:15Z');
    const step = totpStep(now);
    expect(matchTotpStep(secret, totpCode(secret, step), now, 1)).toBe(step);
    expect(matchTotpStep(secret, totpCode(secret, step - 1), now, 1)).toBe(step - 1);
    expect(matchTotpStep(secret, totpCode(secret, step + 1), now, 1)).toBe(step + 1);
    expect(matchTotpStep(secret, totpCode(secret, step - 2), now, 1)).toBeNull();
    expect(matchTotpStep(secret, totpCode(secret, step + 2), now, 1)).toBeNull();
    expect(matchTotpStep(secret, totpCode(secret, step - 1), now, 0)).toBeNull();
    expect(matchTotpStep(secret, ` ${totpCode(secret, step).slice(0, 3)} ${totpCode(secret, step).slice(3)}`, now, 0)).toBe(step);
    expect(matchTotpStep(secret, 'abcdef', now, 1)).toBeNull();
    expect(matchTotpStep(secret, '1234567', now, 1)).toBeNull();
  });

  it('builds an otpauth URI authenticator apps read', () => {
    const uri = totpUri('JBSWY3DPEHPK3PXP', 'Acme Corp', 'ada@example.com');
    expect(uri).toBe('otpauth://totp/Acme%20Corp:ada%40example.com?secret=JBSWY3DPEHPK3PXP&period=30&digits=6&algorithm=SHA1&issuer=Acme%20Corp');
  });

  it('agrees with oathtool on fresh secrets and on the RFC seed', (ctx) => {
    needTool(ctx, oathtool);
    for (const secret of [RFC6238_SECRET, generateTotpSecret(), generateTotpSecret()]) {
      for (const seconds of [59, 1111111109, 1_767_225_600]) {
        const at = new Date(seconds * 1000);
        expect(totpCode(secret, totpStep(at))).toBe(oathtoolTotp(secret, at));
      }
    }
  });
});
