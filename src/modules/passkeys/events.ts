/** Events of passkeys and security keys (their removal: auth-methods/events.ts). */
import { z } from 'zod';
import { defineEvents } from '../../kernel/events/define.js';

const credential = z.object({
  id: z.string(),
  kind: z.enum(['PASSKEY', 'U2F']),
  name: z.string().nullable(),
  aaguid: z.string().nullable(),
  deviceType: z.string().nullable(),
  backedUp: z.boolean(),
});

export const passkeyEvents = defineEvents({
  'user.passkey_added': z.object({ authMethod: credential, viaLink: z.boolean() }),
  'user.passkey_verified': z.object({ authMethod: credential }),
  'user.passkey_counter_regressed': z.object({ authMethod: credential, storedCounter: z.number().int(), receivedCounter: z.number().int() }),
});
