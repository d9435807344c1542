/** Events of API keys: an audit trail, recorded without a user. Never the key itself. */
import { z } from 'zod';
import { defineEvents } from '../../kernel/events/define.js';

export const auditedApiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  expiresAt: z.string().nullable().describe('ISO 8601; null: until revoked'),
});

export const accessTokenEvents = defineEvents({
  'api_key.created': z.object({ apiKey: auditedApiKeySchema }),
  'api_key.revoked': z.object({ apiKey: auditedApiKeySchema }),
});
