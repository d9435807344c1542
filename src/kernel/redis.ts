/**
 * ioredis, loaded on first use: only instances configured with REDIS_URL pay
 * for it (about 9 MB resident), the embedded default never does.
 */
export async function loadRedis(): Promise<typeof import('ioredis').Redis> {
  return (await import('ioredis')).Redis;
}
