#!/usr/bin/env node
// Generates both Prisma clients (SQLite and PostgreSQL) from the one model file.
// One Prisma schema has one provider, so the PostgreSQL variant is the same file
// with its provider and output rewritten; both clients have identical types.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'prisma', 'schema.prisma');
const variantDir = path.join(root, 'prisma', '.generated');

/** The schema text for a provider: SQLite is the source; PostgreSQL is rewritten. */
export function schemaFor(provider, text = readFileSync(source, 'utf8')) {
  if (provider === 'sqlite') return text;
  return text
    .replace('provider = "sqlite"', `provider = "${provider}"`)
    .replace('url      = "file:./portcullis.db"', 'url      = "postgresql://localhost/portcullis"')
    .replace('output       = "../src/kernel/db/generated/sqlite"', `output       = "../../src/kernel/db/generated/${provider}"`)
    .replace(/generator pothos \{[^}]*\}\n/, '');
}

export function writeVariant(provider, text, name = provider) {
  mkdirSync(variantDir, { recursive: true });
  const file = path.join(variantDir, `${name}.prisma`);
  writeFileSync(file, schemaFor(provider, text));
  return file;
}

/** Runs the Prisma CLI; returns its standard output. */
export function prisma(args) {
  return execFileSync(process.execPath, [path.join(root, 'node_modules', 'prisma', 'build', 'index.js'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    env: {
      ...process.env,
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
      PATH: `${path.join(root, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}`,
    },
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  prisma(['generate', '--schema', source]);
  prisma(['generate', '--schema', writeVariant('postgresql')]);
  console.log('prisma: generated the sqlite and postgresql clients');
}
