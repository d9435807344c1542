/**
 * Personal access tokens, recognised by their `pat_` prefix: the caller is
 * their user, narrowed to the token's scopes and without a session. A known
 * token that is revoked or expired, or whose user may not act, makes an
 * anonymous caller that carries why, for the 401.
 */
import type { AuthStrategy } from '../../kernel/auth.js';
import { PERSONAL_ACCESS_TOKEN_PREFIX, type PersonalAccessTokenService } from './service.js';

export function personalAccessTokenStrategy(tokens: Pick<PersonalAccessTokenService, 'authenticate' | 'isActive'>): AuthStrategy {
  return {
    name: 'personal access token',
    recognises: (token) => token.startsWith(PERSONAL_ACCESS_TOKEN_PREFIX),
    async authenticate(token) {
      const caller = await tokens.authenticate(token);
      if (caller?.kind === 'refused') return { kind: 'anonymous', refused: caller.reason };
      return caller ? { kind: 'user', userId: caller.userId, personalAccessToken: { id: caller.tokenId, scopes: caller.scopes } } : null;
    },
    stillAuthorized: (viewer) =>
      viewer.kind === 'user' && viewer.personalAccessToken ? tokens.isActive(viewer.personalAccessToken.id, viewer.userId) : undefined,
  };
}
