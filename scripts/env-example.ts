// Writes .env.example from the documented variable list (src/config.ts), so it never falls behind.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { configVariables } from '../src/config.js';

const lines = [
  '# Portcullis configuration: copy to .env (read at start from the working directory; the environment wins).',
  '# Every variable is optional; the defaults serve one machine with SQLite. README.md explains each.',
  '',
];
for (const [names, meaning] of configVariables) {
  lines.push(`# ${meaning}`);
  for (const name of names.split(' / ')) lines.push(`# ${name}=`);
  lines.push('');
}
writeFileSync(path.resolve(import.meta.dirname, '..', '.env.example'), lines.join('\n'));
console.log('.env.example written');
