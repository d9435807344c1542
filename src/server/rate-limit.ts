/**
 * Per-address limits on the public sign-in operations (login, MFA completion,
 * refresh, passkey sign-in, registration links). Per-user lockout already
 * bounds guesses against one account; this bounds one address spraying many
 * accounts or flooding challenge rows. It applies whatever the Authorization
 * header says: an attacker's own access token (or a made-up one) must not lift
 * it. Only management callers (API keys), trusted back ends that sign many
 * users in from one address, are exempt.
 */
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isAdmin, type Context } from '../graphql/context.js';
import type { RateLimiter } from '../kernel/rate-limiter.js';
import { rootFieldNames } from './auth.js';

export function rateLimited(wait: number, message: string): GraphQLError {
  return new GraphQLError(`${message}; retry in ${wait} s.`, {
    extensions: { code: 'RATE_LIMITED', retryAfter: wait, http: { status: 429, headers: { 'retry-after': String(wait) } } },
  });
}

export function useRateLimitPublicOperations(limiter: RateLimiter | null, publicFields: ReadonlySet<string>): Plugin<Context> {
  return {
    onExecute: async ({ args }) => {
      const { viewer } = args.contextValue;
      if (!limiter || isAdmin(viewer)) return;
      // Introspection is not a sign-in operation (and is off for anonymous callers in production).
      const fields = rootFieldNames(args.document, args.operationName).filter((name) => !name.startsWith('__'));
      // Anonymous callers spend the budget on anything (guessing keys included); signed-in users on the public operations.
      if (viewer.kind !== 'anonymous' && !fields.some((name) => publicFields.has(name))) return;
      if (fields.length === 0) return;
      const wait = await limiter.consume(args.contextValue.meta.ip ?? 'unknown');
      if (wait !== null) throw rateLimited(wait, 'Too many requests from this address');
    },
  };
}
