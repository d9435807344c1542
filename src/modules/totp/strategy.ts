import type { SecondFactorStrategy } from '../sign-in/strategy.js';
import type { TotpService } from './service.js';

/** TOTP codes and backup codes (verifyTotp takes either; a backup code is consumed). */
export function totpStrategy(totp: Pick<TotpService, 'verifyTotp'>): SecondFactorStrategy {
  return {
    methods: ['TOTP', 'BACKUP_CODES'],
    async verifyCode(userId, _method, code, meta, options) {
      const { kind } = await totp.verifyTotp(userId, code, meta, options);
      return kind === 'TOTP' ? 'totp' : 'backup_code';
    },
  };
}
