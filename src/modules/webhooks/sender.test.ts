import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { httpWebhookSender } from './sender.js';

let server: Server;
let port: number;
let hostHeader: string | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    hostHeader = req.headers.host;
    if (req.url === '/hang') return; // never answers
    req.resume();
    req.on('end', () => res.writeHead(201).end('x'.repeat(100_000)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const request = (path: string, timeoutMs = 2000) => ({
  // The name does not resolve: the request must go to the checked address, not through DNS.
  url: new URL(`http://hooks.invalid:${port}${path}`),
  address: '127.0.0.1',
  family: 4 as const,
  headers: { 'content-type': 'application/json' },
  body: '{}',
  timeoutMs,
});

it('connects to the checked address, keeps the URL host, and returns the status', async () => {
  await expect(httpWebhookSender(request('/ok'))).resolves.toEqual({ status: 201 });
  expect(hostHeader).toBe(`hooks.invalid:${port}`);
});

it('gives up after the timeout', async () => {
  const started = Date.now();
  await expect(httpWebhookSender(request('/hang', 200))).rejects.toThrow(/timed out after 200 ms/);
  expect(Date.now() - started).toBeLessThan(5000);
});
