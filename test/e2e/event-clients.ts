/**
 * Real subscription clients for the e2e tests: graphql-ws over a real
 * WebSocket, graphql-sse over HTTP, and a collector that gathers what a
 * subscription sends until the test has what it waits for.
 */
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client } from 'graphql-ws';
import { expect, vi } from 'vitest';
import WebSocket from 'ws';
import type { App } from '../../src/app.js';
import { userTopic } from '../../src/kernel/events/pubsub.js';

export interface Received {
  data?: any;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

export interface Collector {
  items: Received[];
  done: Promise<void>;
  /** Resolves once `count` results arrived. */
  waitFor(count: number): Promise<Received[]>;
  /** How the stream ended: undefined (still open), 'complete', or the error. */
  readonly ended: 'complete' | unknown;
  stop(): void;
}

export function wsClient(httpUrl: string, token: string | null): Client {
  return createWsClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: true,
  });
}

export function sseClient(httpUrl: string, token: string) {
  return createSseClient({ url: httpUrl, headers: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
}

/** Subscribes with any client that has graphql-ws's/graphql-sse's `subscribe(payload, sink)` and collects results. */
export function collect(
  client: { subscribe(payload: { query: string; variables?: Record<string, unknown> }, sink: any): () => void },
  query: string,
  variables: Record<string, unknown>,
): Collector {
  const items: Received[] = [];
  const waiters: Array<{ count: number; resolve: (v: Received[]) => void }> = [];
  let ended: 'complete' | unknown;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const check = () => {
    for (const w of [...waiters]) {
      if (items.length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(items.slice());
      }
    }
  };
  const unsubscribe = client.subscribe(
    { query, variables },
    {
      next: (value: Received) => {
        items.push(value);
        check();
      },
      error: (error: unknown) => {
        ended = error;
        finish();
      },
      complete: () => {
        ended ??= 'complete';
        finish();
      },
    },
  );
  return {
    items,
    done,
    get ended() {
      return ended;
    },
    waitFor(count) {
      return new Promise((resolve, reject) => {
        waiters.push({ count, resolve });
        check();
        done.then(() => {
          if (items.length < count) reject(new Error(`stream ended after ${items.length} of ${count} results: ${JSON.stringify(ended)}`));
        });
      });
    },
    stop: unsubscribe,
  };
}

/** Waits until the server has `count` subscribers on the user's topic (the subscription is live). */
export async function subscribed(app: App, userId: string, count = 1) {
  await vi.waitFor(() => expect(app.events.pubsub.listenerCount(userTopic(userId))).toBe(count), { timeout: 10_000, interval: 20 });
}

/**
 * The user's newest event id: a cursor to subscribe `after`, so that every
 * later event is delivered (a live-only subscription misses events committed
 * before it is fully live, which `subscribed` alone cannot tell).
 */
export async function newestEventId(app: App, userId: string): Promise<string> {
  const row = await app.database.client.event.findFirst({ where: { userId }, orderBy: { seq: 'desc' }, select: { id: true } });
  if (!row) throw new Error(`no event of ${userId} yet`);
  return row.id;
}
