import { defineModule } from '../manifest.js';
import { otpEvents } from './events.js';

export const otpModule = defineModule({
  name: 'otp',
  events: otpEvents,
  schema: () => import('./schema.js'),
});
