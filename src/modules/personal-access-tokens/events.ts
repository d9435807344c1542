/** Events of personal access tokens: recorded on the user they act as. Never the token itself. */
import { z } from 'zod';
import { defineEvents } from '../../kernel/events/define.js';

export const auditedPersonalAccessTokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  expiresAt: z.string().nullable().describe('ISO 8601; null: until revoked'),
});

export const personalAccessTokenEvents = defineEvents({
  'user.pat_created': z.object({ personalAccessToken: auditedPersonalAccessTokenSchema }),
  'user.pat_revoked': z.object({ personalAccessToken: auditedPersonalAccessTokenSchema }),
});
