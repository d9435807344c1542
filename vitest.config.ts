import { defineConfig } from 'vitest/config';

// One id per run names the template databases; workers inherit it.
process.env.PORTCULLIS_TEST_RUN ??= String(process.pid);

// TEST_DATABASE=postgresql runs the same suite on PostgreSQL (see test/helpers/db.ts).
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { NODE_ENV: 'test' },
  },
});
