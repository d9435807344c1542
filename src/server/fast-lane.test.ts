/**
 * The lane's own bookkeeping, on a stand-in for yoga over a real node:http
 * server: once an answer is written, the operation's context (the server
 * context yoga assigns to) no longer holds the node request and response,
 * the fetch Request or the parameters. test/fast-lane.test.ts checks its
 * answers against yoga's.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it, vi } from 'vitest';
import { createFastLane } from './fast-lane.js';
import type { RequestRecord } from './observe.js';
import type { YogaServer } from './yoga.js';

it('lets go of the request, the response and the parameters once the answer is written', async () => {
  const contexts: Array<Record<string, unknown>> = [];
  const seenDuring: string[][] = [];
  const yoga = {
    fetchAPI: { Request },
    // As yoga does: the parameters and the Request are assigned to the server context, which becomes the operation's context.
    getResultForParams: async (payload: { params: unknown; request: Request }, context: Record<string, unknown>) => {
      Object.assign(context, payload);
      contexts.push(context);
      seenDuring.push(['req', 'res', 'request', 'params'].filter((k) => context[k] !== undefined));
      return { data: { ok: true } };
    },
    onResultProcessHooks: [
      ({ setResultProcessor }: { setResultProcessor: (p: unknown, type: string) => void }) => setResultProcessor(() => undefined, 'application/json'),
    ],
    handle: () => new Response('{}'),
  } as unknown as YogaServer;
  const lane = createFastLane({ yoga, graphqlEndpoint: '/graphql', varyOnOrigin: false });
  const server = createServer((req, res) => {
    expect(lane.accepts(req, '/graphql')).toBe(true);
    lane.handle(req, res, { id: 'req-1' } as RequestRecord, (error) => {
      throw error;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ ok }' }) });
    expect(await response.json()).toEqual({ data: { ok: true } });
    expect(lane.answered()).toBe(1);
    expect(seenDuring).toEqual([['req', 'res', 'request', 'params']]);
    await vi.waitFor(() => expect(['req', 'res', 'request', 'params'].filter((k) => contexts[0][k] !== undefined)).toEqual([]));
    // What the operation added for itself stays (the record, the address).
    expect(contexts[0].record).toEqual({ id: 'req-1' });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
