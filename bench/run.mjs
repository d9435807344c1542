#!/usr/bin/env node
// `npm run bench -- <name> [...]`: runs bench/<name>.ts through tsx, one after another.
// Names are registered below so a typo fails fast instead of running nothing.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const benches = {
  credentials: 'credentials.ts',
  events: 'events.ts',
  'hot-paths': 'hot-paths.ts',
  memory: 'memory.ts',
  organizations: 'organizations.ts',
  'user-stats': 'user-stats.ts',
};

const here = path.dirname(fileURLToPath(import.meta.url));
const names = process.argv.slice(2);
if (names.length === 0 || names.some((n) => !(n in benches))) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}> ...`);
  process.exit(2);
}
for (const name of names) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, benches[name])], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
