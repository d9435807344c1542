/**
 * Where the package lives, whether the code runs from src/ (tests, tsx) or
 * from the compiled bundle in dist/: files that ship beside the code (the
 * migrations, the passkey demo's page) are found from here, not relative to
 * the current module's own place.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'portcullis') return dir;
    if (path.dirname(dir) === dir) throw new Error('the portcullis package.json was not found above the running code');
  }
}

export const packageRoot = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
