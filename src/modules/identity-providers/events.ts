/**
 * Events of identity providers and of users' links to them. Payloads hold
 * public facts only: never a client secret, a provider token or an intent token.
 */
import { z } from 'zod';
import { defineEvents } from '../../kernel/events/define.js';
import { IdpFailureReason } from './errors.js';

const identityProvider = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['OIDC', 'OAUTH2', 'GOOGLE', 'MICROSOFT', 'GITHUB']),
  issuer: z.string().nullable(),
  clientId: z.string(),
  linkPolicy: z.enum(['NONE', 'PROMPT', 'AUTO_LINK_VERIFIED_EMAIL']),
  trustEmail: z.boolean(),
  storeTokens: z.boolean(),
  enabled: z.boolean(),
});

const link = z.object({
  id: z.string(),
  identityProviderId: z.string(),
  subject: z.string().describe("The provider's id of the account"),
  username: z.string().nullable(),
});

export const identityProviderEvents = defineEvents({
  'identity_provider.created': z.object({ identityProvider }),
  'identity_provider.updated': z.object({ identityProvider, changes: z.array(z.string()).describe('The fields that changed (clientSecret when it was set or cleared)') }),
  'identity_provider.deleted': z.object({ identityProvider, linksRemoved: z.number().int() }),
  'user.idp_linked': z.object({
    link,
    via: z.enum(['registration', 'intent', 'admin', 'verified_email']).describe('createUser with idpIntent, linkIdpIntent, addIdpLink, or an automatic link by verified email'),
  }),
  'user.idp_unlinked': z.object({ link, reason: z.enum(['removed', 'provider_deleted']) }),
  'user.idp_login_failed': z.object({
    identityProviderId: z.string(),
    intentId: z.string(),
    reason: z.enum([...IdpFailureReason, 'locked', 'inactive']).describe('Why: the failure at the provider, or the linked user may not sign in'),
  }),
});
