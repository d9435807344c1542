/**
 * For the webhook portal's tests: a local webhook receiver on 127.0.0.1 that
 * answers each path with the statuses queued for it, a free port (so the
 * gateway's PORTCULLIS_PUBLIC_URL can name it before it starts), the GraphQL
 * operations, and a client of the portal's pages and JSON API.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { graphql } from '../gql/index.js';
import type { TestApp } from './app.js';

export const CreatePortalApp = graphql(`
  mutation PortalCreateApp($input: CreateWebhookAppInput!) {
    createWebhookApp(input: $input) { __typename ... on CreateWebhookAppSuccess { secret webhookApp { id } } }
  }
`);
export const CreatePortalLink = graphql(`
  mutation PortalCreateLink($input: CreateWebhookPortalLinkInput!) {
    createWebhookPortalLink(input: $input) {
      __typename
      ... on CreateWebhookPortalLinkSuccess { url expiresAt webhookApps { id name } }
      ... on InvalidInputError { code field message }
    }
  }
`);

export { freePort } from './ports.js';

/** A webhook receiver: records each request's path and body, and answers with the next status queued for its path (then 200). */
export function webhookReceiver() {
  const requests: Array<{ path: string; body: string; headers: Record<string, string> }> = [];
  const statuses = new Map<string, number[]>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      requests.push({ path, body, headers: req.headers as Record<string, string> });
      res.writeHead(statuses.get(path)?.shift() ?? 200).end('ok');
    });
  });
  let base = '';
  return {
    requests,
    /** Answers the next requests to `path` with these statuses, in order. */
    answer(path: string, ...codes: number[]) {
      statuses.set(path, [...(statuses.get(path) ?? []), ...codes]);
    },
    url: (path: string) => `${base}${path}`,
    async listen() {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function createPortalApp(t: TestApp, name: string, url: string, eventTypes?: string[]): Promise<{ id: string; secret: string }> {
  const r = await t.run(CreatePortalApp, { input: { name, url, eventTypes: eventTypes as never } });
  if (r.createWebhookApp.__typename !== 'CreateWebhookAppSuccess') throw new Error(`createWebhookApp: ${r.createWebhookApp.__typename}`);
  return { id: r.createWebhookApp.webhookApp.id, secret: r.createWebhookApp.secret };
}

export async function createPortalLink(t: TestApp, webhookAppIds: string[], expiresInSeconds?: number): Promise<{ url: string; expiresAt: string }> {
  const r = await t.run(CreatePortalLink, { input: { webhookAppIds, expiresInSeconds } });
  if (r.createWebhookPortalLink.__typename !== 'CreateWebhookPortalLinkSuccess') throw new Error(`createWebhookPortalLink: ${JSON.stringify(r.createWebhookPortalLink)}`);
  return r.createWebhookPortalLink;
}

export interface PortalAnswer {
  status: number;
  body: any;
}

/** A client of the portal that opened `link`: its session cookie, and calls of the JSON API with it. */
export async function openPortal(link: string) {
  const opened = await fetch(link, { redirect: 'manual' });
  if (opened.status !== 303) throw new Error(`opening the link answered ${opened.status}`);
  const setCookie = opened.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0];
  const base = new URL('./', new URL(opened.headers.get('location')!, link)).href;
  return {
    cookie,
    setCookie,
    base,
    async api(method: 'GET' | 'POST', path: string, headers: Record<string, string> = { 'x-webhook-portal': '1' }): Promise<PortalAnswer> {
      const res = await fetch(new URL(`api/${path}`, base), { method, headers: { cookie, ...headers } });
      return { status: res.status, body: await res.json() };
    },
  };
}

/** Polls `read` until `done` holds of its answer, and returns that answer; fails the test after `timeoutMs`. */
export async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`still not there after ${timeoutMs} ms; last seen: ${JSON.stringify(value)?.slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
