/**
 * The webhook portal over HTTP, at /webhook-portal:
 *
 * - `GET open?token=…` is the link. The first visit exchanges the token for a
 *   session cookie (HttpOnly, SameSite=Strict, scoped to the portal's path)
 *   and redirects to the page, so the token leaves the address bar; any other
 *   visit gets a plain page saying why nothing opened, and no cookie.
 * - `GET /webhook-portal/` with portal.js and portal.css is the page: static
 *   files, no data, served to anyone. Everything it shows comes from
 * - `…/api/*`, plain JSON authorized by the session cookie alone (never an
 *   API key). CSRF: the cookie is SameSite=Strict, and every API request
 *   must carry `x-webhook-portal: 1`, which a cross-site form cannot send and
 *   a cross-site script cannot without a CORS preflight nobody answers.
 *
 * The token travels in the query string, which the access log and traces
 * never keep (server/observe.ts); nothing here logs a URL. The rules (which
 * apps a session reaches) are the portal service's, not this file's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidInputError, InvalidStateError, NotFoundError, PortcullisError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import type { PageHandler } from '../manifest.js';
import { PORTAL_PATH, SESSION_SECONDS, type PortalClient, type PortalSession, type WebhookPortalService } from './portal.js';
import { PAGE_SECURITY_HEADERS, staticFileOf } from '../../kernel/pages.js';

/** The session cookie's name. */
export const PORTAL_COOKIE = 'portcullis_webhook_portal';
/** The header every API request carries (the CSRF check). */
export const PORTAL_HEADER = 'x-webhook-portal';

const SECURITY_HEADERS = PAGE_SECURITY_HEADERS;

const staticFile = (name: string) => staticFileOf('webhooks', name);

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page a link that opens nothing shows: plain, no script, no data. */
function plainPage(title: string, message: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escapeHtml(title)}</title>
  <link rel="icon" href="favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="portal.css">
</head>
<body>
  <main>
    <h1>${escapeHtml(title)}</h1>
    <p id="notice">${escapeHtml(message)}</p>
  </main>
</body>
</html>
`;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

type Api = (session: PortalSession, params: { id: string; query: URLSearchParams; client: PortalClient }) => Promise<unknown>;

/** The page's JSON API: method, path under /webhook-portal/api, and the portal service call it makes. */
function apiRoutes(portal: WebhookPortalService): Array<{ method: 'GET' | 'POST'; pattern: RegExp; run: Api }> {
  const int = (value: string | null) => (value === null || value === '' ? null : /^\d{1,4}$/.test(value) ? Number(value) : NaN);
  return [
    { method: 'GET', pattern: /^\/session$/, run: (session) => portal.overview(session) },
    {
      method: 'GET',
      pattern: /^\/apps\/([^/]+)\/deliveries$/,
      run: async (session, { id, query }) => ({
        deliveries: await portal.deliveries(session, id, { status: query.get('status') || null, eventType: query.get('eventType') || null, limit: int(query.get('limit')) }),
      }),
    },
    { method: 'POST', pattern: /^\/apps\/([^/]+)\/test$/, run: async (session, { id, client }) => ({ delivery: await portal.sendTestEvent(session, id, client) }) },
    { method: 'POST', pattern: /^\/apps\/([^/]+)\/rotate-secret$/, run: (session, { id, client }) => portal.rotateSecret(session, id, client) },
    { method: 'POST', pattern: /^\/deliveries\/([^/]+)\/retry$/, run: async (session, { id }) => ({ delivery: await portal.retryDelivery(session, id) }) },
  ];
}

/** The HTTP status of an expected failure. */
function statusOf(error: PortcullisError): number {
  if (error instanceof NotFoundError) return 404;
  if (error instanceof InvalidInputError) return 400;
  if (error instanceof InvalidStateError) return 409;
  return 422;
}

export function createPortalPages(deps: { portal: WebhookPortalService; logger: Logger }): PageHandler {
  const { portal, logger } = deps;
  // The cookie goes back only to the portal's own paths, as the browser sees them (behind a proxy's prefix, too).
  const cookiePath = `${new URL(portal.publicUrl).pathname.replace(/\/+$/, '')}${PORTAL_PATH}`;
  const secure = portal.publicUrl.startsWith('https:') ? '; Secure' : '';
  const assets = new Map([
    [`${PORTAL_PATH}/`, { body: staticFile('portal.html'), type: 'text/html; charset=utf-8' }],
    [`${PORTAL_PATH}/portal.js`, { body: staticFile('portal.js'), type: 'text/javascript; charset=utf-8' }],
    [`${PORTAL_PATH}/portal.css`, { body: staticFile('portal.css'), type: 'text/css; charset=utf-8' }],
    // Its own icon, or the browser asks for /favicon.ico, which nothing serves.
    [`${PORTAL_PATH}/favicon.svg`, { body: staticFile('favicon.svg'), type: 'image/svg+xml' }],
  ]);
  const routes = apiRoutes(portal);

  function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}) {
    const buffer = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { 'content-type': type, 'content-length': buffer.length, ...SECURITY_HEADERS, ...headers });
    res.end(buffer);
  }
  const json = (res: ServerResponse, status: number, body: unknown) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
  const failure = (res: ServerResponse, status: number, code: string, message: string, field?: string) => json(res, status, { error: { code, message, field } });
  const html = (res: ServerResponse, status: number, body: string, headers?: Record<string, string>) => send(res, status, 'text/html; charset=utf-8', body, headers);

  async function open(res: ServerResponse, query: URLSearchParams, client: PortalClient) {
    const result = await portal.openLink(query.get('token') ?? '', client);
    switch (result.status) {
      case 'opened':
        // 303 to the page: the token leaves the address bar, and a reload never sends it again.
        res.writeHead(303, {
          location: './',
          'set-cookie': `${PORTAL_COOKIE}=${result.session}; Path=${cookiePath}; Max-Age=${SESSION_SECONDS}; HttpOnly; SameSite=Strict${secure}`,
          ...SECURITY_HEADERS,
        });
        return void res.end();
      case 'used':
        return html(res, 410, plainPage('Link already used', 'This webhook portal link was already opened. A link opens the portal once: ask for a new one.'));
      case 'expired':
        return html(res, 410, plainPage('Link expired', `This webhook portal link expired at ${result.expiresAt.toISOString()}. Ask for a new one.`));
      default:
        return html(res, 404, plainPage('Link not valid', 'This is not a webhook portal link, or it was mistyped. Ask for a new one.'));
    }
  }

  async function api(req: IncomingMessage, res: ServerResponse, route: string, query: URLSearchParams, client: PortalClient) {
    // The CSRF check first: a cross-site request learns nothing, not even whether a session exists.
    const site = req.headers['sec-fetch-site'];
    if (req.headers[PORTAL_HEADER] !== '1' || (site !== undefined && site !== 'same-origin')) {
      return failure(res, 403, 'FORBIDDEN', `The portal's API answers its own page only (same origin, with the ${PORTAL_HEADER} header).`);
    }
    const found = routes.map((r) => ({ ...r, match: r.pattern.exec(route) })).find((r) => r.match);
    if (!found?.match) return failure(res, 404, 'NOT_FOUND', 'No such portal API.');
    if (req.method !== found.method) return failure(res, 405, 'METHOD_NOT_ALLOWED', `Use ${found.method}.`);
    const session = await portal.session(cookieValue(req.headers.cookie, PORTAL_COOKIE));
    if (!session) return failure(res, 401, 'UNAUTHENTICATED', 'The portal session has ended, or was never opened: open a new link.');
    let id: string;
    try {
      id = decodeURIComponent(found.match[1] ?? '');
    } catch {
      return failure(res, 404, 'NOT_FOUND', 'No such portal API.');
    }
    try {
      json(res, 200, await found.run(session, { id, query, client }));
    } catch (error) {
      if (!(error instanceof PortcullisError)) throw error;
      failure(res, statusOf(error), error.code, error.message, error instanceof InvalidInputError ? error.field : undefined);
    }
  }

  return (req, res, request) => {
    const url = req.url ?? '';
    const at = url.indexOf('?');
    const pathname = at < 0 ? url : url.slice(0, at);
    if (pathname !== PORTAL_PATH && !pathname.startsWith(`${PORTAL_PATH}/`)) return false;
    const query = new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
    const client: PortalClient = { ip: request.ip, userAgent: req.headers['user-agent']?.slice(0, 500) };
    const done = (work: Promise<void>) =>
      work.catch((error: unknown) => {
        // Logged without the request's URL: it may hold a link's token.
        logger.error({ err: error, requestId: request.id }, 'webhook portal request failed');
        if (!res.headersSent) failure(res, 500, 'INTERNAL', 'Something went wrong; try again.');
        else res.destroy();
      });
    if (pathname === PORTAL_PATH) {
      res.writeHead(308, { location: `${PORTAL_PATH.slice(1)}/`, ...SECURITY_HEADERS });
      res.end();
      return true;
    }
    if (pathname === `${PORTAL_PATH}/open`) {
      // Only a GET opens a link: a HEAD from a link checker spends nothing.
      if (req.method !== 'GET') html(res, 405, plainPage('Open the link in a browser', 'This link opens the webhook portal in a browser.'), { allow: 'GET' });
      else void done(open(res, query, client));
      return true;
    }
    if (pathname.startsWith(`${PORTAL_PATH}/api/`)) {
      void done(api(req, res, pathname.slice(`${PORTAL_PATH}/api`.length), query, client));
      return true;
    }
    const asset = assets.get(pathname);
    if (!asset) {
      failure(res, 404, 'NOT_FOUND', 'Not found.');
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'Method not allowed', { allow: 'GET, HEAD' });
      return true;
    }
    res.writeHead(200, { 'content-type': asset.type, 'content-length': asset.body.length, ...SECURITY_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
    return true;
  };
}
