/**
 * Per-address limits on the operations anyone may call without a key (login,
 * refresh, passkey sign-in, registration links). Per-user lockout already
 * bounds guesses against one account; this bounds one address spraying many
 * accounts or flooding challenge rows. Counters live in Redis when REDIS_URL
 * is set, so several instances share one budget.
 */
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Context } from '../schema/context.js';
import { rootFieldNames } from './auth.js';

export interface PublicRateLimiter {
  /** Spends one request for this address; returns the seconds to wait when the budget is spent. */
  consume(address: string): Promise<number | null>;
  close(): Promise<void>;
}

export function createPublicRateLimiter(options: { perMinute: number; redisUrl?: string; prefix: string }): PublicRateLimiter | null {
  if (options.perMinute === 0) return null;
  const settings = { points: options.perMinute, duration: 60, keyPrefix: `${options.prefix}ratelimit:public` };
  const redis = options.redisUrl ? new Redis(options.redisUrl, { maxRetriesPerRequest: 1 }) : undefined;
  const limiter: RateLimiterAbstract = redis
    ? new RateLimiterRedis({ ...settings, storeClient: redis, insuranceLimiter: new RateLimiterMemory(settings) })
    : new RateLimiterMemory(settings);
  return {
    async consume(address) {
      try {
        await limiter.consume(address);
        return null;
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        throw rejection;
      }
    },
    async close() {
      redis?.disconnect();
    },
  };
}

/** Applies the limit to anonymous operations; callers with a key or token are not limited here. */
export function useRateLimitPublicOperations(limiter: PublicRateLimiter | null): Plugin<Context> {
  return {
    onExecute: async ({ args }) => {
      if (!limiter || args.contextValue.viewer.kind !== 'anonymous') return;
      // Introspection is not a sign-in operation (and is off for anonymous callers in production).
      const fields = rootFieldNames(args.document, args.operationName);
      if (fields.length > 0 && fields.every((name) => name.startsWith('__'))) return;
      const wait = await limiter.consume(args.contextValue.meta.ip ?? 'unknown');
      if (wait !== null) {
        throw new GraphQLError(`Too many requests from this address; retry in ${wait} s.`, {
          extensions: { code: 'RATE_LIMITED', retryAfter: wait, http: { status: 429, headers: { 'retry-after': String(wait) } } },
        });
      }
    },
  };
}
