/**
 * What the gateway's own small pages (the passkey demo, the webhook portal)
 * share: their files from a module's static folder, and the headers that keep
 * them to same-origin scripts, styles and fetches, none inline, no framing,
 * no caching, and no referrer (their URLs may hold a code or a token).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from './paths.js';

export const PAGE_SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
} as const;

/** A file of a module's static folder (src/modules/<module>/static), read once by the caller. */
export const staticFileOf = (module: string, name: string) => readFileSync(path.join(packageRoot, 'src', 'modules', module, 'static', name));
