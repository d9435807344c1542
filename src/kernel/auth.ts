/**
 * Who is calling, and how a presented token becomes a caller. Each kind of
 * token is an authentication strategy that a module contributes (API keys
 * by their `pck_` prefix, access tokens by their `at+jwt` type); the server
 * asks the first one that recognises the token, so telling tokens apart never
 * depends on guessing their shape.
 */

/**
 * Who is calling. Management callers hold an API key (narrowed to its
 * scopes); end users an access token (a session), or a personal access token,
 * which acts as its user without a session, narrowed to its scopes. An
 * anonymous caller that presented a token the gateway refuses carries why
 * (`refused`), for the 401 it gets.
 */
export type Viewer =
  | { kind: 'anonymous'; refused?: string }
  | { kind: 'api_key'; keyId: string; scopes: readonly string[] }
  | { kind: 'bootstrap_key' }
  | { kind: 'user'; userId: string; sessionId: string; personalAccessToken?: undefined }
  | { kind: 'user'; userId: string; sessionId?: undefined; personalAccessToken: { id: string; scopes: readonly string[] } };

export interface AuthStrategy {
  name: string;
  /** True when the token is of this strategy's kind (cheap: a prefix or a header, no I/O). */
  recognises(token: string): boolean;
  /** The caller the token names, or null when it is not valid, or anonymous with the reason it is refused (never throws on a bad token). */
  authenticate(token: string): Promise<Viewer | null>;
  /** For long-lived connections: true while a caller this strategy made still has access; undefined for other kinds. */
  stillAuthorized(viewer: Viewer): Promise<boolean> | undefined;
}

export const anonymous: Viewer = { kind: 'anonymous' };

/** The caller a token names through the first strategy that recognises it; anonymous otherwise. */
export async function authenticate(strategies: readonly AuthStrategy[], token: string | undefined): Promise<Viewer> {
  if (!token) return anonymous;
  const strategy = strategies.find((s) => s.recognises(token));
  return (await strategy?.authenticate(token)) ?? anonymous;
}

/** True while the caller still has access (asked again and again by live subscriptions). */
export async function stillAuthorized(strategies: readonly AuthStrategy[], viewer: Viewer): Promise<boolean> {
  for (const strategy of strategies) {
    const answer = strategy.stillAuthorized(viewer);
    if (answer !== undefined) return answer;
  }
  return false;
}

export function isAdmin(viewer: Viewer): boolean {
  return viewer.kind === 'api_key' || viewer.kind === 'bootstrap_key';
}
