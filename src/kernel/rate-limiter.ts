/**
 * Fixed-window counters (rate-limiter-flexible): in memory, or in Redis when
 * REDIS_URL is set so every instance spends one budget. Keys are hashed before
 * they reach Redis, so an email used as a key never sits there in the clear.
 */
import { hash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export interface RateLimiter {
  /** Spends one point for `key`; returns the seconds to wait when the budget is spent, else null. */
  consume(key: string): Promise<number | null>;
}

/** A limiter of `perMinute` points per key, or null when the limit is off (0). */
export function createRateLimiter(options: { perMinute: number; name: string; prefix: string; redis?: Redis }): RateLimiter | null {
  if (options.perMinute === 0) return null;
  const settings = { points: options.perMinute, duration: 60, keyPrefix: `${options.prefix}ratelimit:${options.name}` };
  const limiter: RateLimiterAbstract = options.redis
    ? // Redis down: the in-memory budget keeps limiting instead of letting everything through.
      new RateLimiterRedis({ ...settings, storeClient: options.redis, insuranceLimiter: new RateLimiterMemory(settings) })
    : new RateLimiterMemory(settings);
  return {
    async consume(key) {
      try {
        await limiter.consume(hash('sha256', key, 'base64url'));
        return null;
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        throw rejection;
      }
    },
  };
}
