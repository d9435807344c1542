/** Events of one-time-code factors (their removal: auth-methods/events.ts). */
import { z } from 'zod';
import { defineEvents } from '../../kernel/events/define.js';
import { publicUserSchema } from '../users/events.js';

const added = z.object({ user: publicUserSchema, authMethod: z.object({ id: z.string(), kind: z.enum(['OTP_SMS', 'OTP_EMAIL']) }) });

export const otpEvents = defineEvents({
  'user.otp_sms_added': added,
  'user.otp_email_added': added,
});
