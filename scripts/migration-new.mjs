#!/usr/bin/env node
// Writes a new migration for both providers from the change between the model
// file and the snapshot taken at the last migration; `--check` only reports
// whether such a change exists (CI fails when the models moved without a migration).
// `prisma migrate dev` does not work offline, so this is how migrations are made.
import { existsSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prisma, writeVariant } from './prisma-generate.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const migrations = path.join(root, 'prisma', 'migrations');
const snapshot = path.join(migrations, 'schema.snapshot.prisma');
const providers = ['sqlite', 'postgresql'];

function diff(provider) {
  const to = writeVariant(provider, undefined, provider);
  const from = existsSync(snapshot)
    ? ['--from-schema-datamodel', writeVariant(provider, readFileSync(snapshot, 'utf8'), `${provider}.snapshot`)]
    : ['--from-empty'];
  const sql = prisma(['migrate', 'diff', ...from, '--to-schema-datamodel', to, '--script']);
  return sql.includes('This is an empty migration') ? '' : sql;
}

const check = process.argv.includes('--check');
const name = process.argv.slice(2).find((a) => !a.startsWith('--'));
const changes = Object.fromEntries(providers.map((p) => [p, diff(p)]));
const pending = providers.filter((p) => changes[p]);

if (check) {
  if (pending.length) {
    console.error(`migrations: prisma/schema.prisma has changes with no migration (${pending.join(', ')}); run npm run migration:new -- <name>`);
    process.exit(1);
  }
  console.log('migrations: up to date with prisma/schema.prisma');
  process.exit(0);
}
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error('usage: npm run migration:new -- <snake_case_name>');
  process.exit(2);
}
if (!pending.length) {
  console.log('migrations: nothing changed since the last migration');
  process.exit(0);
}
const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
for (const provider of providers) {
  const dir = path.join(migrations, provider, `${stamp}_${name}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'migration.sql'), changes[provider] || '-- no change for this provider\n');
  writeFileSync(
    path.join(migrations, provider, 'migration_lock.toml'),
    `# Written by scripts/migration-new.mjs; the provider of this folder.\nprovider = "${provider}"\n`,
  );
  console.log(`migrations: wrote ${path.relative(root, dir)}/migration.sql`);
}
copyFileSync(path.join(root, 'prisma', 'schema.prisma'), snapshot);
