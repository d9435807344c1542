#!/usr/bin/env node
// Compiles the gateway to plain JavaScript in dist/ (esbuild: one bundle of our
// own code, split at its dynamic imports; packages stay in node_modules), so
// the `portcullis` command starts without compiling TypeScript at run time:
// --help answers at once, and no compiler sits in the serving process's memory.
// Run by postinstall, before the tests and before npm start; takes about a second.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, 'src', 'main.ts')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  // Class names are GraphQL type names (the error types): minified or renamed, the schema would change.
  keepNames: true,
  logLevel: 'warning',
  // Some packages are CommonJS; a bundle in ESM still needs `require` for the generated Prisma client's helpers.
  banner: { js: "import { createRequire as __portcullisRequire } from 'node:module'; const require = __portcullisRequire(import.meta.url);" },
});
if (!process.argv.includes('--quiet')) console.log('dist/: the gateway compiled');
