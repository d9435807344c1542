#!/usr/bin/env -S node --max-semi-space-size=4
// --max-semi-space-size=4 (also in `npm start` and deploy/): V8's young
// generation is capped at 2 x 4 MB instead of growing to 2 x 16 MB, which a
// gateway otherwise keeps resident after start-up and under load (about 30 MB
// of RSS; bench/README.md, memory), for no measurable loss of throughput.
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
