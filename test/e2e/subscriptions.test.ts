/**
 * Subscriptions through real clients against a started gateway: graphql-ws
 * over a real WebSocket and graphql-sse over HTTP. Live events, resuming with
 * `after` across the replay/live switch while events are being written,
 * filtering, refusal of anonymous sockets, and the state stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { graphql } from '../gql/index.js';
import { BOOTSTRAP_KEY, createTestApp, type TestApp } from '../helpers/app.js';
import { collect, sseClient, subscribed, wsClient } from './event-clients.js';

const CreateUser = graphql(`
  mutation SubsCreateUser($email: String!) {
    createUser(input: { email: $email }) { __typename ... on CreateUserSuccess { user { id } } }
  }
`);
const Lock = graphql(`
  mutation SubsLock($id: ID!) { lockUser(input: { userId: $id }) { __typename } }
`);
const Unlock = graphql(`
  mutation SubsUnlock($id: ID!) { unlockUser(input: { userId: $id }) { __typename } }
`);
const Rename = graphql(`
  mutation SubsRename($id: ID!, $name: String!) { updateUser(input: { userId: $id, displayName: $name }) { __typename } }
`);
const Delete = graphql(`
  mutation SubsDelete($id: ID!) { deleteUser(input: { userId: $id }) { __typename } }
`);
const Log = graphql(`
  query SubsLog($id: ID!) { events(first: 500, userId: $id) { edges { node { id type } } } }
`);

const USER_EVENTS = `subscription($userId: ID!, $types: [UserEventType!], $after: ID) {
  userEvents(userId: $userId, types: $types, after: $after) { id type userId data actor { type } }
}`;

let t: TestApp;
let url: string;
let ws: Client;

async function newUser(email: string): Promise<string> {
  const r = await t.run(CreateUser, { email });
  if (r.createUser.__typename !== 'CreateUserSuccess') throw new Error('createUser failed');
  return r.createUser.user.id;
}

async function logOf(id: string) {
  return (await t.run(Log, { id })).events.edges.map((e) => e.node);
}

beforeAll(async () => {
  t = await createTestApp({ env: { PORTCULLIS_RELAY_POLL_MS: '50' } });
  ({ url } = await t.app.start());
  ws = wsClient(url, BOOTSTRAP_KEY);
});

afterAll(async () => {
  await ws?.dispose();
  await t?.close();
});

describe('userEvents over WebSocket (graphql-ws)', () => {
  it('streams live events of that user only, in order', async () => {
    const a = await newUser('live-a@example.com');
    const b = await newUser('live-b@example.com');
    const sub = collect(ws, USER_EVENTS, { userId: a });
    await subscribed(t.app, a);
    await t.run(Lock, { id: b });
    await t.run(Lock, { id: a });
    await t.run(Unlock, { id: a });
    const got = await sub.waitFor(2);
    sub.stop();
    // Unsubscribing releases the server-side listener at once, not at the user's next event.
    await subscribed(t.app, a, 0);
    expect(got.map((r) => r.data.userEvents.type)).toEqual(['USER_LOCKED', 'USER_UNLOCKED']);
    expect(got.every((r) => r.data.userEvents.userId === a)).toBe(true);
    expect(got[0].data.userEvents.actor.type).toBe('bootstrap_key');
    // Live only: the user.created event before the subscription is not replayed.
    expect(got.map((r) => r.data.userEvents.id)).toEqual((await logOf(a)).slice(1).map((e) => e.id));
  });

  it('filters by type', async () => {
    const a = await newUser('types@example.com');
    const sub = collect(ws, USER_EVENTS, { userId: a, types: ['USER_UNLOCKED'] });
    await subscribed(t.app, a);
    await t.run(Lock, { id: a });
    await t.run(Unlock, { id: a });
    await t.run(Lock, { id: a });
    await t.run(Unlock, { id: a });
    const got = await sub.waitFor(2);
    sub.stop();
    expect(got.map((r) => r.data.userEvents.type)).toEqual(['USER_UNLOCKED', 'USER_UNLOCKED']);
  });

  it('resumes after a cursor: stored events, then live ones, with no gap or duplicate while events are being written', async () => {
    const a = await newUser('resume@example.com');
    for (let i = 0; i < 15; i++) await t.run(Rename, { id: a, name: `stored ${i}` });
    const stored = await logOf(a);
    const cursor = stored[2].id;
    const sub = collect(ws, USER_EVENTS, { userId: a, after: cursor });
    // Writes race the replay: some land before the relay position is read, some during the replay, some after.
    const writes = (async () => {
      for (let i = 0; i < 25; i++) await t.run(Rename, { id: a, name: `live ${i}` });
    })();
    await writes;
    const expected = (await logOf(a)).slice(3).map((e) => e.id);
    expect(expected).toHaveLength(13 + 25);
    const got = await sub.waitFor(expected.length);
    sub.stop();
    expect(got.map((r) => r.data.userEvents.id)).toEqual(expected);
  });

  it('refuses an unauthenticated socket with 4403', async () => {
    const anonymous = wsClient(url, null);
    const sub = collect(anonymous, USER_EVENTS, { userId: 'usr_none' });
    await sub.done;
    expect((sub.ended as { code?: number }).code).toBe(4403);
    await anonymous.dispose();
  });

  it('refuses an unknown cursor with a clear error', async () => {
    const a = await newUser('badcursor@example.com');
    const sub = collect(ws, USER_EVENTS, { userId: a, after: 'evt_does_not_exist' });
    await sub.done;
    expect(sub.items).toHaveLength(1);
    expect(sub.items[0].errors?.[0].extensions?.code).toBe('INVALID_INPUT');
    expect(sub.items[0].errors?.[0].message).toMatch(/No event has this id/);
  });

  it('streams the user on each state change, then null on deletion, and ends', async () => {
    const a = await newUser('state@example.com');
    const sub = collect(ws, 'subscription($id: ID!) { userStateChanged(userId: $id) { id state } }', { id: a });
    await subscribed(t.app, a);
    await t.run(Rename, { id: a, name: 'not a state change' });
    await t.run(Lock, { id: a });
    await t.run(Unlock, { id: a });
    await t.run(Delete, { id: a });
    await sub.done;
    expect(sub.ended).toBe('complete');
    expect(sub.items.map((r) => r.data.userStateChanged)).toEqual([{ id: a, state: 'LOCKED' }, { id: a, state: 'ACTIVE' }, null]);
  });
});

describe('userEvents over Server-Sent Events (graphql-sse)', () => {
  it('replays after a cursor and continues live', async () => {
    const a = await newUser('sse@example.com');
    await t.run(Lock, { id: a });
    const [created] = await logOf(a);
    const sse = sseClient(url, BOOTSTRAP_KEY);
    const sub = collect(sse, USER_EVENTS, { userId: a, after: created.id });
    await sub.waitFor(1);
    await subscribed(t.app, a);
    await t.run(Unlock, { id: a });
    const got = await sub.waitFor(2);
    sub.stop();
    sse.dispose();
    expect(got.map((r) => r.data.userEvents.type)).toEqual(['USER_LOCKED', 'USER_UNLOCKED']);
  });

  it('refuses a subscription without a key', async () => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: USER_EVENTS, variables: { userId: 'usr_x' } }),
    });
    const text = await res.text();
    expect(text).toContain('UNAUTHENTICATED');
    expect(text).not.toContain('"userEvents":{');
  });
});
