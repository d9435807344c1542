/**
 * GET /idps/callback: where providers send the browser back (the redirect
 * URI registered at each provider: PORTCULLIS_PUBLIC_URL + /idps/callback).
 * The service completes the intent; this page only redirects (303) to the
 * intent's success or failure URL, or answers a plain 400 when the request
 * names no intent. Nothing here is cached, framed, or sent on as a referrer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../kernel/logger.js';
import type { IdentityProviderService } from './service.js';

export const CALLBACK_PATH = '/idps/callback';

const HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
};

export function createIdpCallbackPage(deps: { identityProviders: Pick<IdentityProviderService, 'handleCallback'>; logger: Logger }) {
  const answer = (res: ServerResponse, status: number, message: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...HEADERS });
    res.end(message);
  };
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    if (url.pathname !== CALLBACK_PATH) return false;
    if (req.method !== 'GET') {
      answer(res, 405, 'Method not allowed');
      return true;
    }
    const meta = { actor: { type: 'system' as const }, ip: req.socket.remoteAddress, userAgent: req.headers['user-agent'] };
    deps.identityProviders.handleCallback(url.searchParams, meta).then(
      (result) => {
        if ('redirect' in result) {
          res.writeHead(303, { location: result.redirect, ...HEADERS });
          res.end();
        } else {
          answer(res, result.status, result.message);
        }
      },
      (error) => {
        deps.logger.error({ err: error }, 'identity provider callback failed');
        answer(res, 500, 'The sign-in could not be completed. Start it again.');
      },
    );
    return true;
  };
}
