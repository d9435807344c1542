/**
 * Test files in vitest's order (the longest of the last run first, else the
 * largest), except that the files known to take longest on either database
 * start at once. A fresh clone has no timings, and the PostgreSQL run orders
 * by the SQLite run's: a file slow only on PostgreSQL started last there and
 * ran alone for half a minute at the end.
 */
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const SLOW_FIRST = [
  'test/e2e/cli.test.ts',
  'test/e2e/database-outage.test.ts',
  'test/e2e/webhooks-crash.test.ts',
  'test/tokens-and-keys.security.test.ts',
  'test/e2e/graphiql-browser.test.ts',
  'test/traces.test.ts',
  'test/e2e/doctor.test.ts',
  'test/migrator.test.ts',
];

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (file: TestSpecification) => {
      const at = SLOW_FIRST.indexOf(path.relative(this.ctx.config.root, file.moduleId).split(path.sep).join('/'));
      return at < 0 ? SLOW_FIRST.length : at;
    };
    // Array.prototype.sort is stable: the rest keep vitest's order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
