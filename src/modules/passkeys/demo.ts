/**
 * The passkey demo page at /passkeys (on only with PORTCULLIS_PASSKEY_DEMO=true):
 * a small page that registers a passkey with a registration link code and
 * signs in with it through the public GraphQL operations. Everything it loads
 * comes from the gateway itself: @simplewebauthn/browser's UMD bundle is
 * served from node_modules, never from a CDN.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PAGE_SECURITY_HEADERS, staticFileOf } from '../../kernel/pages.js';

interface Asset {
  body: Buffer;
  type: string;
}

/** The browser bundle's path; the package's exports only name its module entry, so walk from there. */
function browserBundlePath(): string {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('@simplewebauthn/browser');
  } catch {
    throw new Error('PORTCULLIS_PASSKEY_DEMO needs the @simplewebauthn/browser package installed');
  }
  // …/@simplewebauthn/browser/script/index.js → …/@simplewebauthn/browser/dist/bundle/index.umd.min.js
  return path.join(path.dirname(entry), '..', 'dist', 'bundle', 'index.umd.min.js');
}

const staticFile = (name: string) => staticFileOf('passkeys', name);

const SECURITY_HEADERS = PAGE_SECURITY_HEADERS;

/**
 * Returns a request handler for the demo's paths. It answers (and returns
 * true) for /passkeys and its assets; any other request is left to the caller.
 */
export function createPasskeyDemo(): (req: IncomingMessage, res: ServerResponse) => boolean {
  const assets = new Map<string, Asset>([
    ['/passkeys', { body: staticFile('passkeys.html'), type: 'text/html; charset=utf-8' }],
    ['/passkeys/app.js', { body: staticFile('passkeys.js'), type: 'text/javascript; charset=utf-8' }],
    ['/passkeys/passkeys.css', { body: staticFile('passkeys.css'), type: 'text/css; charset=utf-8' }],
    ['/passkeys/simplewebauthn-browser.js', { body: readFileSync(browserBundlePath()), type: 'text/javascript; charset=utf-8' }],
  ]);
  return (req, res) => {
    const pathname = (req.url ?? '').split('?')[0].replace(/\/$/, '');
    if (pathname !== '/passkeys' && !pathname.startsWith('/passkeys/')) return false;
    const asset = assets.get(pathname);
    if (!asset || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(asset ? 405 : 404, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
      res.end(asset ? 'Method not allowed' : 'Not found');
      return true;
    }
    res.writeHead(200, { 'content-type': asset.type, 'content-length': asset.body.length, ...SECURITY_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
    return true;
  };
}
