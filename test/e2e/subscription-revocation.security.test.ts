/**
 * Threat: a revoked credential keeps listening. A WebSocket or SSE stream
 * opened with an API key, or with a user's access token, used to keep
 * receiving events after the key was revoked or the session ended. Now every
 * stream re-checks its caller every PORTCULLIS_SUBSCRIPTION_REAUTH_SECONDS: a
 * WebSocket is closed with 4403, an SSE stream gets a FORBIDDEN error and ends.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { systemMeta } from '../../src/kernel/events/outbox.js';
import { graphql } from '../gql/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { collect, newestEventId, sseClient, subscribed, wsClient, type Collector } from './event-clients.js';

const Rename = graphql(`
  mutation RevokedSubsRename($id: ID!, $name: String!) { updateUser(input: { userId: $id, displayName: $name }) { __typename } }
`);
const Lock = graphql(`
  mutation RevokedSubsLock($id: ID!) { lockUser(input: { userId: $id }) { __typename } }
`);

const USER_EVENTS = `subscription($userId: ID!, $after: ID) { userEvents(userId: $userId, types: [USER_UPDATED], after: $after) { id type } }`;
/** Far below any test timeout, far above the 1 s re-check interval. */
const ENDS_WITHIN = { timeout: 10_000, interval: 50 };

let t: TestApp;
let url: string;
beforeAll(async () => {
  t = await createTestApp({ env: { PORTCULLIS_RELAY_POLL_MS: '50', PORTCULLIS_SUBSCRIPTION_REAUTH_SECONDS: '1' } });
  ({ url } = await t.app.start());
});
afterAll(() => t?.close());

let n = 0;
async function newUser() {
  return t.app.services.users.createUser({ email: `listener${++n}@example.com` }, systemMeta);
}

/** Renames the user and waits until each stream has received it: the stream is live and authorized. */
async function provesLive(userId: string, streams: Collector[]) {
  const before = streams.map((s) => s.items.length);
  await t.run(Rename, { id: userId, name: `name ${Date.now()}` });
  await Promise.all(streams.map((s, i) => s.waitFor(before[i] + 1)));
}

const closeCode = (ended: unknown) => (ended as { code?: number } | undefined)?.code;

describe('streams opened with an API key', () => {
  it('end once the key is revoked: WebSocket closed with 4403, SSE with a FORBIDDEN error', async () => {
    const user = await newUser();
    const { id: keyId, key } = await t.app.services.apiKeys.createApiKey({ name: 'listener', scopes: ['*'] }, systemMeta);
    const ws = wsClient(url, key);
    const sse = sseClient(url, key);
    const overWs = collect(ws, USER_EVENTS, { userId: user.id, after: await newestEventId(t.app, user.id) });
    const overSse = collect(sse, USER_EVENTS, { userId: user.id, after: await newestEventId(t.app, user.id) });
    await subscribed(t.app, user.id, 2);
    await provesLive(user.id, [overWs, overSse]);

    await t.app.services.apiKeys.revokeApiKey(keyId, systemMeta);
    await vi.waitFor(() => expect(closeCode(overWs.ended)).toBe(4403), ENDS_WITHIN);
    await vi.waitFor(() => expect(overSse.ended).toBe('complete'), ENDS_WITHIN);
    expect(overSse.items.at(-1)?.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'ACCESS_REVOKED' });
    // Nothing listens any more.
    await vi.waitFor(() => expect(t.app.events.pubsub.listenerCount(`user:${user.id}`)).toBe(0), ENDS_WITHIN);
    await ws.dispose();
  });

  it('stay open while the key is valid, across several re-checks', async () => {
    const user = await newUser();
    const { key } = await t.app.services.apiKeys.createApiKey({ name: 'steady', scopes: ['*'] }, systemMeta);
    const ws = wsClient(url, key);
    const overWs = collect(ws, USER_EVENTS, { userId: user.id, after: await newestEventId(t.app, user.id) });
    await subscribed(t.app, user.id, 1);
    await new Promise((r) => setTimeout(r, 2_500));
    await provesLive(user.id, [overWs]);
    expect(overWs.ended).toBeUndefined();
    await ws.dispose();
  });
});

describe("a user's own stream", () => {
  it('ends when the session is revoked (SSE) or the user is locked (WebSocket)', async () => {
    const user = await newUser();
    const first = await t.app.services.sessions.createSession(user.id, {}, systemMeta);
    const second = await t.app.services.sessions.createSession(user.id, {}, systemMeta);
    const sse = sseClient(url, first.accessToken);
    const ws = wsClient(url, second.accessToken);
    const overSse = collect(sse, USER_EVENTS, { userId: user.id, after: await newestEventId(t.app, user.id) });
    const overWs = collect(ws, USER_EVENTS, { userId: user.id, after: await newestEventId(t.app, user.id) });
    await subscribed(t.app, user.id, 2);
    await provesLive(user.id, [overSse, overWs]);

    await t.app.services.sessions.revokeSession(first.sessionId, systemMeta);
    await vi.waitFor(() => expect(overSse.ended).toBe('complete'), ENDS_WITHIN);
    expect(overSse.items.at(-1)?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // The other session still listens until its user is locked.
    await provesLive(user.id, [overWs]);
    expect(overWs.ended).toBeUndefined();

    await t.run(Lock, { id: user.id });
    await vi.waitFor(() => expect(closeCode(overWs.ended)).toBe(4403), ENDS_WITHIN);
    await ws.dispose();
  });
});
