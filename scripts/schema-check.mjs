#!/usr/bin/env node
// Fails when schema.graphql is not what the code prints (run `npm run schema:print`).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const printed = execFileSync(process.execPath, ['bin/portcullis.mjs', 'print-schema'], { encoding: 'utf8' });
const committed = readFileSync('schema.graphql', 'utf8');
if (printed !== committed) {
  const a = committed.split('\n');
  const b = printed.split('\n');
  const line = a.findIndex((l, i) => l !== b[i]);
  console.error(`schema.graphql is out of date (first difference at line ${line + 1}); run: npm run schema:print`);
  process.exit(1);
}
console.log('schema.graphql matches the code');
