/** End users' access tokens: JWTs whose header says `typ: at+jwt` (RFC 9068), checked against their session. */
import { decodeProtectedHeader } from 'jose';
import type { AuthStrategy } from '../../kernel/auth.js';
import type { SessionService } from './service.js';

export function accessTokenStrategy(sessions: Pick<SessionService, 'authenticateAccessToken' | 'isSessionActive'>): AuthStrategy {
  return {
    name: 'access token',
    recognises(token) {
      if (token.split('.').length !== 3) return false;
      try {
        return decodeProtectedHeader(token).typ === 'at+jwt';
      } catch {
        return false;
      }
    },
    async authenticate(token) {
      const user = await sessions.authenticateAccessToken(token);
      return user ? { kind: 'user', userId: user.userId, sessionId: user.sessionId } : null;
    },
    stillAuthorized: (viewer) => (viewer.kind === 'user' && viewer.sessionId ? sessions.isSessionActive(viewer.sessionId, viewer.userId) : undefined),
  };
}
