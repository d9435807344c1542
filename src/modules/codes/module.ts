import { defineModule } from '../manifest.js';

/** One-time codes (verification, sign-in, reset, registration links) and their delivery: used by other modules, no API of their own. */
export const codesModule = defineModule({ name: 'codes' });
