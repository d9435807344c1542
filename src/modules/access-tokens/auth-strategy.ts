/**
 * Management callers: API keys, recognised by their `pck_` prefix, and the
 * bootstrap key from the environment, which has no prefix of its own and is
 * asked last (compared in constant time). A known key that is revoked or
 * expired makes an anonymous caller that carries why, for the 401.
 */
import type { AuthStrategy, Viewer } from '../../kernel/auth.js';
import { API_KEY_PREFIX, type ApiKeyService, type Caller } from './api-keys.js';

function viewerOf(caller: Caller | null): Viewer | null {
  if (caller?.kind === 'bootstrap_key') return { kind: 'bootstrap_key' };
  if (caller?.kind === 'api_key') return { kind: 'api_key', keyId: caller.keyId, scopes: caller.scopes };
  if (caller?.kind === 'refused') return { kind: 'anonymous', refused: caller.reason };
  return null;
}

export function apiKeyStrategy(apiKeys: Pick<ApiKeyService, 'authenticate' | 'isActive'>): AuthStrategy {
  return {
    name: 'API key',
    recognises: (token) => token.startsWith(API_KEY_PREFIX),
    authenticate: async (token) => viewerOf(await apiKeys.authenticate(token)),
    stillAuthorized: (viewer) => (viewer.kind === 'api_key' ? apiKeys.isActive(viewer.keyId) : undefined),
  };
}

export function bootstrapKeyStrategy(apiKeys: Pick<ApiKeyService, 'authenticate'>, configured: boolean): AuthStrategy {
  return {
    name: 'bootstrap key',
    recognises: () => configured,
    async authenticate(token) {
      const caller = await apiKeys.authenticate(token);
      return caller?.kind === 'bootstrap_key' ? { kind: 'bootstrap_key' } : null;
    },
    // The bootstrap key lives as long as the configuration that holds it.
    stillAuthorized: (viewer) => (viewer.kind === 'bootstrap_key' ? Promise.resolve(true) : undefined),
  };
}
