/**
 * recordActivity's promise to the sign-in and refresh paths: at most one
 * database write per user per UTC day on this instance, a memo that stays
 * bounded, and no failure passed on (a failed write is retried at the
 * user's next activity). The statements are counted on a fake driver; what
 * they do is the store's contract (store.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { DirectSql, Statement } from '../../kernel/db/direct.js';
import { manualClock } from '../../kernel/clock.js';
import { createLogger } from '../../kernel/logger.js';
import { createStatisticsService } from './service.js';

function fakeDirect(fail = () => false) {
  const writes: Array<{ userId: string; day: number }> = [];
  const direct = {
    async runIfChanged(first: Statement) {
      if (fail()) throw new Error('database unavailable');
      writes.push({ userId: first.params[0] as string, day: first.params[1] as number });
      return true;
    },
  } as unknown as DirectSql;
  return { direct, writes };
}

const DAY = 86_400_000;
const morning = new Date('2026-05-04T08:00:00Z');
const later = (ms: number) => new Date(morning.getTime() + ms);

describe('recordActivity', () => {
  it('writes a user once per UTC day, and again on the next day', async () => {
    const { direct, writes } = fakeDirect();
    const stats = createStatisticsService({ direct, provider: 'sqlite', clock: manualClock(morning), logger: createLogger('silent') });
    await stats.recordActivity('usr_a', morning);
    await stats.recordActivity('usr_a', later(3_600_000));
    await stats.recordActivity('usr_b', later(1));
    await stats.recordActivity('usr_a', later(15 * 3_600_000 + 59 * 60_000));
    expect(writes).toHaveLength(2);
    await stats.recordActivity('usr_a', later(16 * 3_600_000));
    await stats.recordActivity('usr_a', later(DAY));
    expect(writes.map((w) => w.userId)).toEqual(['usr_a', 'usr_b', 'usr_a']);
    expect(writes[2].day - writes[0].day).toBe(1);
  });

  it('keeps at most memoSize users, forgetting the oldest (which then costs one idempotent write)', async () => {
    const { direct, writes } = fakeDirect();
    const stats = createStatisticsService({ direct, provider: 'sqlite', clock: manualClock(morning), logger: createLogger('silent'), memoSize: 2 });
    for (const user of ['usr_a', 'usr_b', 'usr_c']) await stats.recordActivity(user, morning);
    for (const user of ['usr_b', 'usr_c']) await stats.recordActivity(user, morning);
    expect(writes).toHaveLength(3);
    await stats.recordActivity('usr_a', morning);
    expect(writes.map((w) => w.userId)).toEqual(['usr_a', 'usr_b', 'usr_c', 'usr_a']);
  });

  it('never throws: a failed write is logged and tried again at the next activity', async () => {
    let failing = true;
    const { direct, writes } = fakeDirect(() => failing);
    const lines: string[] = [];
    const logger = createLogger('warn', { write: (line: string) => void lines.push(line) });
    const stats = createStatisticsService({ direct, provider: 'sqlite', clock: manualClock(morning), logger });
    await expect(stats.recordActivity('usr_a', morning)).resolves.toBeUndefined();
    expect(lines.join('')).toContain('could not record an active day');
    failing = false;
    await stats.recordActivity('usr_a', later(1));
    expect(writes).toEqual([{ userId: 'usr_a', day: Math.floor(morning.getTime() / DAY) }]);
  });
});
