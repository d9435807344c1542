#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=8 --max-old-space-size=256
// The same settings as `npm start` and deploy/ (bench/README.md, memory; no
// measurable loss of throughput):
// - --max-semi-space-size=8: V8's young generation is capped at 2 x 8 MB
//   instead of growing to 2 x 16 MB and staying resident; 4 MB measured no
//   lighter and, with 1,000 subscriptions, doubled the time in collection;
// - --max-old-space-size=256: V8 collects its old generation before garbage
//   reaches three times the live heap (about 80 MB under load with 1,000
//   subscriptions); raise it for instances holding many more subscriptions;
// - MALLOC_ARENA_MAX=2: glibc keeps two malloc arenas instead of one per
//   thread, so argon2's 19 MiB work areas on libuv's threads are reused
//   rather than each kept in an arena of its own (about 25 MB at idle).
// The `portcullis` command. It runs the compiled gateway in dist/, a cache of
// src/ kept by scripts/build.mjs (npm ci builds it): when a source file is
// newer than the build, it is rebuilt first (about a second), so the command
// never runs stale code after an edit.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const compiled = path.join(root, 'dist', 'main.js');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(full) : statSync(full).mtimeMs);
  }
  return newest;
}

const src = path.join(root, 'src');
if (!existsSync(compiled) || (existsSync(src) && newestSource(src) > statSync(compiled).mtimeMs)) {
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs'), '--quiet'], { stdio: 'inherit' });
}
await import(pathToFileURL(compiled).href);
