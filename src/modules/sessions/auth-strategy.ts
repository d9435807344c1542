/** End users' access tokens: JWTs whose header says `typ: at+jwt` (RFC 9068), checked against their session. */
import { decodeProtectedHeader } from 'jose';
import type { AuthStrategy, Viewer } from '../../kernel/auth.js';
import type { User } from '../../kernel/db/models.js';
import type { SessionService } from './service.js';

/**
 * The user row each access-token caller's check read with its session (one
 * statement), by the request's viewer: `me` answers with it instead of
 * reading the user again. Kept beside the viewer, not on it, so nothing that
 * logs or copies a viewer carries the user's columns; gone with the request.
 */
const checkedUsers = new WeakMap<Viewer, User>();

/** The row read with this caller's session check in this request, when there is one. */
export const checkedUserOf = (viewer: Viewer): User | undefined => checkedUsers.get(viewer);

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
      const found = await sessions.authenticateAccessToken(token);
      if (!found) return null;
      const viewer: Viewer = { kind: 'user', userId: found.userId, sessionId: found.sessionId };
      checkedUsers.set(viewer, found.user);
      return viewer;
    },
    stillAuthorized: (viewer) => (viewer.kind === 'user' && viewer.sessionId ? sessions.isSessionActive(viewer.sessionId, viewer.userId) : undefined),
  };
}
