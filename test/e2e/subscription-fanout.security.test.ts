/**
 * Threat: shared execution of subscription events shows a subscriber what its
 * own rights would not. The server executes each event once per group of
 * subscribers with the same document, variables and caller, and sends that
 * one result to the whole group (server/subscription-fanout.ts). If callers
 * with different rights landed in one group, a narrow API key would read
 * privateMetadata executed for a wide one, a user's session would read what
 * only API keys read, and one session would see another's `current` flag.
 *
 * Every caller below subscribes to the same document with the same
 * variables, several times over WebSocket and SSE (so each group has members
 * to share with), interleaved, and every result each one receives is checked
 * against what its own rights give it. A revoked session is still cut off by
 * the re-check while its group's other callers keep receiving.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { systemMeta } from '../../src/kernel/events/outbox.js';
import { userTopic } from '../../src/kernel/events/pubsub.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { collect, newestEventId, sseClient, subscribed, wsClient, type Collector } from './event-clients.js';

const PRIVATE = 'private-canary-7c1f';
const PUBLIC = 'public-canary-52ab';

const FOLLOW = `subscription($userId: ID!, $after: ID) {
  userEvents(userId: $userId, types: [USER_UPDATED], after: $after) {
    id
    private: user { privateMetadata }
    public: user { publicMetadata }
    own: user { id sessions { id current } }
  }
}`;
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
async function userWithMetadata() {
  const user = await t.app.services.users.createUser({ email: `fanout-${++n}@example.com` }, systemMeta);
  await t.app.services.userMetadata.updateUserMetadata({ userId: user.id, private: { secret: PRIVATE }, public: { note: PUBLIC } }, systemMeta);
  return user;
}

const rename = (userId: string, i: number) => t.app.services.users.updateUser(userId, { displayName: `name ${i}` }, systemMeta);

interface Caller {
  name: string;
  token: string;
  /** The session its token belongs to, when it is a session. */
  sessionId?: string;
  /** What its rights give it in each result. */
  readsPrivate: boolean;
  readsPublic: boolean;
}

/** Opens two WebSocket subscriptions (each on its own socket) and one SSE subscription per caller, interleaved. */
function subscribeAll(callers: Caller[], variables: Record<string, unknown>) {
  const streams: Array<{ caller: Caller; stream: Collector }> = [];
  const closers: Array<() => unknown> = [];
  const sockets = callers.map((c) => [wsClient(url, c.token), wsClient(url, c.token)] as const);
  for (const [, socket] of sockets.flat().entries()) closers.push(() => socket.dispose());
  // Round after round, in an order that changes, so members of different groups alternate.
  for (const round of [0, 1, 2]) {
    const order = round === 1 ? [...callers.keys()].reverse() : [...callers.keys()];
    for (const i of order) {
      const caller = callers[i];
      const client = round === 2 ? sseClient(url, caller.token) : sockets[i][round];
      streams.push({ caller, stream: collect(client, FOLLOW, variables) });
    }
  }
  return {
    streams,
    close: () => {
      for (const { stream } of streams) stream.stop();
      return Promise.all(closers.map((c) => c()));
    },
  };
}

/** Everything a caller received, checked against its own rights. */
function expectOwnView(caller: Caller, items: Collector['items'], userId: string) {
  for (const item of items) {
    const text = JSON.stringify(item);
    const event = item.data?.userEvents;
    expect(event?.id, `${caller.name}: ${text}`).toMatch(/^evt_/);
    expect(text.includes(PRIVATE), `${caller.name} privateMetadata: ${text}`).toBe(caller.readsPrivate);
    expect(text.includes(PUBLIC), `${caller.name} publicMetadata: ${text}`).toBe(caller.readsPublic);
    if (event.own?.sessions) {
      const current = (event.own.sessions as Array<{ id: string; current: boolean }>).filter((s) => s.current).map((s) => s.id);
      expect(current, `${caller.name} current session`).toEqual(caller.sessionId ? [caller.sessionId] : []);
    }
    expect(event.own?.id ?? userId).toBe(userId);
  }
}

describe('callers following the same stream with the same document', () => {
  it('each receive only what their own rights give them', async () => {
    const user = await userWithMetadata();
    const { apiKeys, sessions, personalAccessTokens } = t.app.services;
    const narrowKey = await apiKeys.createApiKey({ name: 'narrow', scopes: ['events:read'] }, systemMeta);
    const wideKey = await apiKeys.createApiKey({ name: 'wide', scopes: ['events:read', 'users:read'] }, systemMeta);
    const first = await sessions.createSession(user.id, {}, systemMeta);
    const second = await sessions.createSession(user.id, {}, systemMeta);
    const narrowPat = await personalAccessTokens.createPersonalAccessToken({ userId: user.id, name: 'narrow', scopes: ['events:read'] }, systemMeta);
    const widePat = await personalAccessTokens.createPersonalAccessToken({ userId: user.id, name: 'wide', scopes: ['events:read', 'users:read'] }, systemMeta);
    const callers: Caller[] = [
      { name: 'narrow API key', token: narrowKey.key, readsPrivate: false, readsPublic: false },
      { name: 'wide API key', token: wideKey.key, readsPrivate: true, readsPublic: true },
      { name: 'first session', token: first.accessToken, sessionId: first.sessionId, readsPrivate: false, readsPublic: true },
      { name: 'second session', token: second.accessToken, sessionId: second.sessionId, readsPrivate: false, readsPublic: true },
      { name: 'narrow personal access token', token: narrowPat.token, readsPrivate: false, readsPublic: false },
      { name: 'wide personal access token', token: widePat.token, readsPrivate: false, readsPublic: true },
    ];
    const { streams, close } = subscribeAll(callers, { userId: user.id, after: await newestEventId(t.app, user.id) });
    await subscribed(t.app, user.id, streams.length);

    const EVENTS = 4;
    for (let i = 0; i < EVENTS; i++) await rename(user.id, i);
    await Promise.all(streams.map((s) => s.stream.waitFor(EVENTS)));
    for (const { caller, stream } of streams) {
      expect(stream.items, caller.name).toHaveLength(EVENTS);
      expectOwnView(caller, stream.items, user.id);
    }
    // The sessions saw their sessions at all: the `current` check above is not vacuous.
    for (const { caller, stream } of streams.filter((s) => s.caller.sessionId)) expect(stream.items.every((i) => i.data?.userEvents.own?.sessions?.length >= 2), caller.name).toBe(true);
    await close();
    await vi.waitFor(() => expect(t.app.events.pubsub.listenerCount(userTopic(user.id))).toBe(0), ENDS_WITHIN);
  });
});

describe('a revoked session', () => {
  it('is cut off on every one of its streams, while another session of the same user keeps receiving', async () => {
    const user = await userWithMetadata();
    const revoked = await t.app.services.sessions.createSession(user.id, {}, systemMeta);
    const kept = await t.app.services.sessions.createSession(user.id, {}, systemMeta);
    const callers: Caller[] = [
      { name: 'revoked session', token: revoked.accessToken, sessionId: revoked.sessionId, readsPrivate: false, readsPublic: true },
      { name: 'kept session', token: kept.accessToken, sessionId: kept.sessionId, readsPrivate: false, readsPublic: true },
    ];
    const { streams, close } = subscribeAll(callers, { userId: user.id, after: await newestEventId(t.app, user.id) });
    await subscribed(t.app, user.id, streams.length);
    await rename(user.id, 0);
    await Promise.all(streams.map((s) => s.stream.waitFor(1)));

    await t.app.services.sessions.revokeSession(revoked.sessionId, systemMeta);
    const cut = streams.filter((s) => s.caller === callers[0]);
    for (const { stream } of cut) await vi.waitFor(() => expect(stream.ended).toBeDefined(), ENDS_WITHIN);
    // WebSocket: closed with 4403; SSE: a FORBIDDEN error, then the end.
    expect(cut.map((s) => (s.stream.ended as { code?: number }).code ?? s.stream.ended)).toEqual([4403, 4403, 'complete']);
    expect(cut[2].stream.items.at(-1)?.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'ACCESS_REVOKED' });
    const receivedBefore = cut.map((s) => s.stream.items.filter((i) => i.data).length);

    const stillOpen = streams.filter((s) => s.caller === callers[1]);
    await vi.waitFor(() => expect(t.app.events.pubsub.listenerCount(userTopic(user.id))).toBe(stillOpen.length), ENDS_WITHIN);
    await rename(user.id, 1);
    await Promise.all(stillOpen.map((s) => s.stream.waitFor(2)));
    for (const { caller, stream } of stillOpen) {
      expect(stream.ended).toBeUndefined();
      expectOwnView(caller, stream.items, user.id);
    }
    // Nothing more reached the revoked session's streams.
    expect(cut.map((s) => s.stream.items.filter((i) => i.data).length)).toEqual(receivedBefore);
    await close();
  });
});
