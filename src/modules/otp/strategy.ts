import type { SecondFactorStrategy } from '../sign-in/strategy.js';
import type { OtpFactorService } from './service.js';

/** One-time codes sent by SMS or email to a verified address. */
export function otpStrategy(otp: Pick<OtpFactorService, 'verifyOtp' | 'sendOtp'>): SecondFactorStrategy {
  const channel = (method: string) => (method === 'OTP_SMS' ? 'SMS' : 'EMAIL');
  return {
    methods: ['OTP_SMS', 'OTP_EMAIL'],
    async verifyCode(userId, method, code, meta) {
      await otp.verifyOtp({ userId, channel: channel(method), code }, meta);
      return method === 'OTP_SMS' ? 'otp_sms' : 'otp_email';
    },
    async sendCode(userId, method) {
      const sent = await otp.sendOtp({ userId, channel: channel(method) });
      return { expiresAt: sent.expiresAt, destination: sent.sentTo };
    },
  };
}
