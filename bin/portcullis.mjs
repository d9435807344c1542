#!/usr/bin/env node
// The `portcullis` command. It runs the compiled gateway in dist/ (built by
// `npm ci`, `npm start` and `npm test`); from a checkout without it, the
// TypeScript sources through tsx's loader, which is slower to start.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/main.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
