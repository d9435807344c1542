/**
 * A gateway on a fresh database for one test file, and a typed executor that
 * runs operations through the real pipeline (authentication, limits,
 * masking). Its HTTP server listens on 127.0.0.1 either way; the relay and
 * workers are not started: tests that need them start them.
 *
 * TEST_TRANSPORT says how operations reach it: `http` (the default) sends
 * them over real HTTP through the node:http front and its fast lane
 * (src/server/fast-lane.ts); `fetch` hands them to yoga's fetch handler in
 * process. The lane's own tests (test/fast-lane.test.ts) also compare its
 * answers with yoga's.
 */
import { buildHTTPExecutor } from '@graphql-tools/executor-http';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { ExecutionResult } from 'graphql';
import { createApp, type App, type AppOptions } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/kernel/logger.js';
import { freshDatabase, type TestDatabase } from './db.js';

const transport = process.env.TEST_TRANSPORT ?? 'http';

export const BOOTSTRAP_KEY = 'test-bootstrap-key-0123456789abcdef';
export const ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');

export interface TestApp {
  app: App;
  db: TestDatabase;
  /** Runs an operation as the bootstrap admin unless `token` says otherwise (null: anonymous). */
  exec<R, V>(document: TypedDocumentNode<R, V>, variables?: V, options?: { token?: string | null }): Promise<ExecutionResult<R>>;
  /** Like exec, but fails the test on top-level errors and returns data. */
  run<R, V>(document: TypedDocumentNode<R, V>, variables?: V, options?: { token?: string | null }): Promise<R>;
  close(): Promise<void>;
}

export function testConfig(databaseUrl: string, env: Record<string, string> = {}) {
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    PORTCULLIS_BOOTSTRAP_API_KEY: BOOTSTRAP_KEY,
    PORTCULLIS_ENCRYPTION_KEY: ENCRYPTION_KEY,
    PORTCULLIS_DATA_DIR: '/tmp/portcullis-tests/data',
    LOG_LEVEL: 'silent',
    PORT: '0',
    // Cheap hashing for tests that do not test hashing (those set their own parameters).
    PORTCULLIS_ARGON2_MEMORY_KIB: '1024',
    PORTCULLIS_ARGON2_ITERATIONS: '1',
    // Tests call sign-in operations many times from one address and for one user; the limits have their own tests.
    PORTCULLIS_PUBLIC_RATE_LIMIT: '0',
    PORTCULLIS_LOGIN_IDENTIFIER_RATE_LIMIT: '0',
    ...env,
  });
}

/** `database`: run on this database (another instance's) instead of a fresh one; it is then not dropped on close. */
export async function createTestApp(options: AppOptions & { env?: Record<string, string>; database?: TestDatabase } = {}): Promise<TestApp> {
  const db = options.database ?? (await freshDatabase());
  const app = await createApp(testConfig(db.url, options.env), { logger: createLogger('silent'), migrate: false, ...options });
  // Where the configuration says (tests that give a port name it in their public URL); 127.0.0.1 and any port by default.
  const { url } = await app.serveHttp(app.config.port, app.config.host);
  const executor = transport === 'fetch' ? buildHTTPExecutor({ fetch: app.yoga.fetch, endpoint: 'http://gateway.test/graphql' }) : buildHTTPExecutor({ endpoint: url });
  const exec: TestApp['exec'] = async (document, variables, opts = {}) => {
    const token = opts.token === undefined ? BOOTSTRAP_KEY : opts.token;
    const result = await executor({
      document: document as never,
      variables: variables as never,
      extensions: token ? { headers: { authorization: `Bearer ${token}` } } : undefined,
    });
    return result as never;
  };
  return {
    app,
    db,
    exec,
    async run(document, variables, opts) {
      const result = await exec(document, variables, opts);
      if (result.errors?.length) throw new Error(`unexpected GraphQL errors: ${JSON.stringify(result.errors)}`);
      return result.data as never;
    },
    async close() {
      await app.stop();
      if (!options.database) await db.drop();
    },
  };
}

/** A logger whose lines the test can read (what was logged, and that no secret was). */
export function capturedLogger(level = 'info') {
  const lines: string[] = [];
  return { lines, logger: createLogger(level, { write: (line: string) => void lines.push(line) }) };
}
