import { defineModule } from '../manifest.js';
import { createPasskeyDemo } from './demo.js';
import { passkeyEvents } from './events.js';

export const passkeysModule = defineModule({
  name: 'passkeys',
  events: passkeyEvents,
  schema: () => import('./schema.js'),
  pages: ({ config }) => (config.webauthn.demoPage ? createPasskeyDemo() : undefined),
});
