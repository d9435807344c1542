/**
 * Shutting down ends open streams at once, with a message a client can act
 * on, instead of holding the shutdown for its whole timeout: a WebSocket is
 * closed with 1001 (going away), an SSE stream gets one SHUTTING_DOWN error
 * and ends. The shutdown timeout here is a minute, so a stop that waited for
 * the streams would take that long.
 */
import { expect, it, vi } from 'vitest';
import { systemMeta } from '../../src/kernel/events/outbox.js';
import { BOOTSTRAP_KEY, createTestApp } from '../helpers/app.js';
import { collect, newestEventId, sseClient, subscribed, wsClient } from './event-clients.js';

const USER_EVENTS = `subscription($userId: ID!, $after: ID) { userEvents(userId: $userId, after: $after) { id type } }`;

it('ends SSE and WebSocket subscriptions at once when the server stops', async () => {
  const t = await createTestApp({ env: { PORTCULLIS_SHUTDOWN_TIMEOUT_MS: '60000', PORTCULLIS_RELAY_POLL_MS: '50' } });
  const { url } = await t.app.start();
  const user = await t.app.services.users.createUser({ email: 'stays@example.com' }, systemMeta);
  const after = await newestEventId(t.app, user.id);
  const ws = wsClient(url, BOOTSTRAP_KEY);
  const sse = sseClient(url, BOOTSTRAP_KEY);
  const overWs = collect(ws, USER_EVENTS, { userId: user.id, after });
  const overSse = collect(sse, USER_EVENTS, { userId: user.id, after });
  await subscribed(t.app, user.id, 2);
  await t.app.services.users.updateUser(user.id, { displayName: 'live' }, systemMeta);
  await Promise.all([overWs.waitFor(1), overSse.waitFor(1)]);

  const started = Date.now();
  await t.close();
  // Far below the minute a stop would take if it waited for the streams.
  expect(Date.now() - started).toBeLessThan(20_000);
  await vi.waitFor(() => expect(overSse.ended).toBe('complete'), { timeout: 5_000 });
  expect(overSse.items.at(-1)?.errors?.[0]?.extensions?.code).toBe('SHUTTING_DOWN');
  await vi.waitFor(() => expect((overWs.ended as { code?: number })?.code).toBe(1001), { timeout: 5_000 });
  await ws.dispose();
});
