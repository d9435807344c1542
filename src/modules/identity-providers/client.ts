/**
 * The gateway as a relying party: every request to a provider goes through
 * here, through openid-client (a certified RP), which checks PKCE, state,
 * nonce and the ID token (signature, issuer, audience, expiry) itself: no
 * hand-rolled token checks (ZITADEL's JWT-IdP advisories were exactly that).
 *
 * ID tokens' signatures are checked against the provider's JWKS as well
 * (enableNonRepudiationChecks), not only their claims.
 *
 * Each request has a timeout (PORTCULLIS_IDP_TIMEOUT_MS). A provider that is
 * down, slow or answers nonsense becomes a ProviderCallFailure with a reason
 * the service turns into a typed error; callers write nothing before it.
 */
import * as oidc from 'openid-client';
import type { IdpFailureReason } from './errors.js';
import { isLoopbackUrl, isOidcKind, type ProviderEmail, type ProviderEndpoints } from './providers.js';

/** A provider as the client needs it: its row with the secret decrypted. */
export interface ProviderConnection extends ProviderEndpoints {
  id: string;
  clientSecret: string | null;
  /** Changes whenever the row does: a cached configuration of an older version is not used. */
  updatedAt: Date;
}

/** The provider's tokens, as stored with a link when the provider keeps them. */
export interface ProviderTokens {
  accessToken: string;
  refreshToken: string | null;
  idToken: string | null;
  /** ISO 8601; null when the provider did not say. */
  expiresAt: string | null;
  scope: string | null;
}

/** A failed request to a provider, with the reason a caller reports. */
export class ProviderCallFailure extends Error {
  constructor(
    readonly reason: IdpFailureReason,
    options?: { cause?: unknown },
  ) {
    super(`identity provider call failed: ${reason}`, options);
  }
}

/** What went wrong, from openid-client's errors: unreachable, refused, or an answer that failed its checks. */
export function failureReasonOf(error: unknown): IdpFailureReason {
  if (error instanceof ProviderCallFailure) return error.reason;
  if (error instanceof oidc.AuthorizationResponseError) return 'PROVIDER_ERROR';
  if (error instanceof oidc.ResponseBodyError) return error.status >= 500 ? 'PROVIDER_UNAVAILABLE' : 'EXCHANGE_FAILED';
  // fetch's network failures (refused, reset, DNS) are TypeErrors.
  if (error instanceof TypeError) return 'PROVIDER_UNAVAILABLE';
  const code = (error as { code?: string }).code;
  switch (code) {
    case 'OAUTH_TIMEOUT':
    case 'OAUTH_ABORT':
    case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
    case 'OAUTH_RESPONSE_IS_NOT_JSON':
    case 'OAUTH_PARSE_ERROR':
    case 'OAUTH_INVALID_SERVER_METADATA':
    case 'OAUTH_MISSING_SERVER_METADATA':
      return 'PROVIDER_UNAVAILABLE';
    case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
    case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
    case 'OAUTH_KEY_SELECTION_FAILED':
    case 'OAUTH_INVALID_RESPONSE':
      return 'ID_TOKEN_INVALID';
    default:
      return 'RESPONSE_INVALID';
  }
}

/** How long a discovered configuration (and its cached JWKS) is reused. */
const CONFIGURATION_TTL_MS = 60 * 60_000;

export type IdpClient = ReturnType<typeof createIdpClient>;

export function createIdpClient(deps: {
  callbackUrl: string;
  timeoutMs: number;
  /** Replaces fetch for every request to a provider (tests route named hosts to 127.0.0.1). */
  fetch?: typeof fetch;
  now: () => Date;
}) {
  const timeout = deps.timeoutMs / 1000;
  const customFetch: oidc.CustomFetch | undefined = deps.fetch ? (url, options) => deps.fetch!(url, options as RequestInit) : undefined;
  const cache = new Map<string, { version: number; at: number; configuration: Promise<oidc.Configuration> }>();

  /** Plain http is allowed only to a provider on this machine's loopback. */
  const insecureAllowed = (url: string | null) => url !== null && isLoopbackUrl(new URL(url));

  function clientAuth(p: ProviderConnection): oidc.ClientAuth {
    if (!p.clientSecret) return oidc.None();
    const basic = oidc.ClientSecretBasic(p.clientSecret);
    const post = oidc.ClientSecretPost(p.clientSecret);
    // OAuth 2.0-only providers (GitHub) take the secret in the body; OIDC's default is client_secret_basic,
    // chosen when the provider's metadata lists it (or lists nothing), decided at each request from that metadata.
    if (!isOidcKind(p.kind)) return post;
    return (as, client, body, headers) => {
      const methods = as.token_endpoint_auth_methods_supported;
      return (!methods || methods.includes('client_secret_basic') ? basic : post)(as, client, body, headers);
    };
  }

  async function build(p: ProviderConnection): Promise<oidc.Configuration> {
    const execute = insecureAllowed(p.issuer ?? p.authorizationEndpoint) ? [oidc.allowInsecureRequests] : [];
    let configuration: oidc.Configuration;
    if (isOidcKind(p.kind)) {
      configuration = await oidc.discovery(new URL(p.issuer!), p.clientId, p.clientSecret ?? undefined, clientAuth(p), {
        // OIDC Core lets a client trust TLS instead of an ID token's signature when the token comes straight from the
        // token endpoint (openid-client's default). The gateway checks the signature against the provider's JWKS too:
        // a stolen token endpoint certificate or a provider behind a proxy then cannot mint identities.
        execute: [...execute, oidc.enableNonRepudiationChecks],
        timeout,
        ...(customFetch ? { [oidc.customFetch]: customFetch } : {}),
      });
    } else {
      const metadata: oidc.ServerMetadata = {
        // OAuth 2.0 servers have no issuer to discover; the authorization endpoint's origin stands in for it.
        issuer: p.issuer ?? new URL(p.authorizationEndpoint!).origin,
        authorization_endpoint: p.authorizationEndpoint!,
        token_endpoint: p.tokenEndpoint!,
        userinfo_endpoint: p.userinfoEndpoint ?? undefined,
      };
      configuration = new oidc.Configuration(metadata, p.clientId, p.clientSecret ?? undefined, clientAuth(p));
      for (const extension of execute) extension(configuration);
    }
    configuration.timeout = timeout;
    if (customFetch) configuration[oidc.customFetch] = customFetch;
    return configuration;
  }

  /** The provider's configuration, discovered once and reused until the row changes or an hour passes. */
  function configurationOf(p: ProviderConnection): Promise<oidc.Configuration> {
    const version = p.updatedAt.getTime();
    const cached = cache.get(p.id);
    if (cached && cached.version === version && Date.now() - cached.at < CONFIGURATION_TTL_MS) return cached.configuration;
    const configuration = build(p);
    cache.set(p.id, { version, at: Date.now(), configuration });
    // A failed discovery is not remembered: the next sign-in tries again.
    configuration.catch(() => {
      if (cache.get(p.id)?.configuration === configuration) cache.delete(p.id);
    });
    return configuration;
  }

  /** GETs a JSON resource with the user's access token (OAuth 2.0 profiles, GitHub's emails). */
  async function getJson(configuration: oidc.Configuration, accessToken: string, url: string): Promise<unknown> {
    const headers = new Headers({ accept: 'application/json', 'user-agent': 'portcullis' });
    const response = await oidc.fetchProtectedResource(configuration, accessToken, new URL(url), 'GET', undefined, headers);
    if (!response.ok) throw new ProviderCallFailure(response.status >= 500 || response.status === 429 ? 'PROVIDER_UNAVAILABLE' : 'RESPONSE_INVALID');
    try {
      return await response.json();
    } catch (error) {
      throw new ProviderCallFailure('RESPONSE_INVALID', { cause: error });
    }
  }

  function tokensOf(response: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers, previous?: ProviderTokens): ProviderTokens {
    const expiresIn = response.expiresIn();
    return {
      accessToken: response.access_token,
      // A refresh that returns no new refresh token keeps the old one (RFC 6749 §6).
      refreshToken: response.refresh_token ?? previous?.refreshToken ?? null,
      idToken: response.id_token ?? previous?.idToken ?? null,
      expiresAt: expiresIn !== undefined ? new Date(deps.now().getTime() + expiresIn * 1000).toISOString() : null,
      scope: response.scope ?? previous?.scope ?? null,
    };
  }

  return {
    /** Throws ProviderCallFailure when the provider cannot be reached or its metadata is unusable. */
    async authorizationUrl(p: ProviderConnection, checks: { state: string; nonce: string; codeVerifier: string }): Promise<string> {
      const configuration = await configurationOf(p).catch((error) => {
        throw new ProviderCallFailure(failureReasonOf(error), { cause: error });
      });
      const params: Record<string, string> = {
        redirect_uri: deps.callbackUrl,
        response_type: 'code',
        scope: p.scopes,
        state: checks.state,
        code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
        code_challenge_method: 'S256',
      };
      if (isOidcKind(p.kind)) params.nonce = checks.nonce;
      return oidc.buildAuthorizationUrl(configuration, params).href;
    },

    /**
     * Completes a callback: checks the authorization response (state, the
     * issuer when the provider names it), exchanges the code with the PKCE
     * verifier, verifies the ID token with the nonce (OIDC), and reads the
     * profile: userinfo merged over the ID token's claims (its subject must
     * match), or the OAuth 2.0 profile endpoint and, for GitHub, the email
     * list. Throws ProviderCallFailure.
     */
    async completeCallback(
      p: ProviderConnection,
      query: URLSearchParams,
      checks: { state: string; nonce: string; codeVerifier: string },
    ): Promise<{ claims: Record<string, unknown>; emails?: ProviderEmail[]; tokens: ProviderTokens }> {
      try {
        const configuration = await configurationOf(p);
        const currentUrl = new URL(deps.callbackUrl);
        for (const [k, v] of query) currentUrl.searchParams.append(k, v);
        const oidcKind = isOidcKind(p.kind);
        const response = await oidc.authorizationCodeGrant(configuration, currentUrl, {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
          ...(oidcKind ? { expectedNonce: checks.nonce, idTokenExpected: true } : {}),
        });
        const tokens = tokensOf(response);
        if (oidcKind) {
          const idClaims = response.claims()!;
          let claims: Record<string, unknown> = { ...idClaims };
          if (configuration.serverMetadata().userinfo_endpoint) {
            const userinfo = await oidc.fetchUserInfo(configuration, response.access_token, idClaims.sub);
            claims = { ...claims, ...userinfo };
          }
          return { claims, tokens };
        }
        const profile = await getJson(configuration, response.access_token, p.userinfoEndpoint!);
        if (!profile || typeof profile !== 'object' || Array.isArray(profile)) throw new ProviderCallFailure('PROFILE_INVALID');
        let emails: ProviderEmail[] | undefined;
        if (p.emailsEndpoint) {
          const list = await getJson(configuration, response.access_token, p.emailsEndpoint);
          emails = Array.isArray(list)
            ? list
                .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
                .map((e) => ({ email: String(e.email ?? ''), verified: e.verified === true, primary: e.primary === true }))
            : [];
        }
        return { claims: profile as Record<string, unknown>, emails, tokens };
      } catch (error) {
        throw error instanceof ProviderCallFailure ? error : new ProviderCallFailure(failureReasonOf(error), { cause: error });
      }
    },

    /** New tokens for a refresh token (RFC 6749 §6). Throws ProviderCallFailure. */
    async refresh(p: ProviderConnection, previous: ProviderTokens): Promise<ProviderTokens> {
      try {
        const configuration = await configurationOf(p);
        return tokensOf(await oidc.refreshTokenGrant(configuration, previous.refreshToken!), previous);
      } catch (error) {
        throw error instanceof ProviderCallFailure ? error : new ProviderCallFailure(failureReasonOf(error), { cause: error });
      }
    },

    /** Forgets a provider's cached configuration (after it changed or was deleted). */
    forget(id: string) {
      cache.delete(id);
    },
  };
}

/** Random values for one trip: the state, the nonce and the PKCE verifier. */
export function newChecks(): { state: string; nonce: string; codeVerifier: string } {
  return { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier() };
}
