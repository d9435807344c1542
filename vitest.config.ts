import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';
import { SlowFirstSequencer } from './test/helpers/sequencer.js';

const require = createRequire(import.meta.url);

// One id per run names the template databases; workers inherit it.
process.env.PORTCULLIS_TEST_RUN ??= String(process.pid);

// TEST_DATABASE=postgresql runs the same suite on PostgreSQL (see test/helpers/db.ts).
export default defineConfig({
  // One copy of graphql for our code and the packages: Vite would pick graphql's
  // ESM build while Node loads its CommonJS one for yoga, and two copies break
  // `instanceof GraphQLError` (yoga would mask our UNAUTHENTICATED errors).
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }] },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    // Two files at once even on two cores: a file spends much of its time waiting on databases, browsers and sockets,
    // and vitest's default (one fewer than the cores) ran the suite one file at a time, twice as long.
    maxWorkers: 2,
    sequence: { sequencer: SlowFirstSequencer },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { NODE_ENV: 'test' },
  },
});
