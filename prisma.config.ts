// Prisma CLI configuration: the WebAssembly schema engine with driver adapters,
// which works offline (see the Prisma section of the environment notes).
import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';

export default defineConfig({
  engine: 'js',
  experimental: { adapter: true },
  schema: path.join('prisma', 'schema.prisma'),
  async adapter() {
    return new PrismaBetterSQLite3({ url: process.env.PRISMA_SQLITE_URL ?? ':memory:' });
  },
});
