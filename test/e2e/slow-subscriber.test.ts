/**
 * A subscriber that stops reading must not hold up others or grow the
 * server's memory: once its bounded buffer (PORTCULLIS_SUBSCRIPTION_BUFFER)
 * overflows, its subscription alone ends with SUBSCRIPTION_OVERFLOW and the
 * cursor to resume from; resuming with that cursor delivers the rest.
 *
 * The slow client is a raw WebSocket whose TCP socket is paused; each event
 * it asks for is large (the user's 7.5 KB public metadata, selected under 60
 * aliases), so the kernel buffers fill after a few events and the server's
 * sends stop completing, as with a real stalled client.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Client } from 'graphql-ws';
import { graphql } from '../gql/index.js';
import { BOOTSTRAP_KEY, createTestApp, type TestApp } from '../helpers/app.js';
import { collect, subscribed, wsClient } from './event-clients.js';

const BUFFER = 4;
const EVENTS = 60;

const CreateUser = graphql(`
  mutation SlowCreateUser($metadata: JSON) {
    createUser(input: { email: "slow@example.com", publicMetadata: $metadata }) { __typename ... on CreateUserSuccess { user { id } } }
  }
`);
const Rename = graphql(`
  mutation SlowRename($id: ID!, $name: String!) { updateUser(input: { userId: $id, displayName: $name }) { __typename } }
`);
const Log = graphql(`
  query SlowLog($id: ID!) { events(first: 500, userId: $id) { edges { node { id } } } }
`);

// Metadata is at most 8 KB a user: more aliases of a smaller object make the same 450 KB an event.
const ALIASES = 60;
const heavy = Array.from({ length: ALIASES }, (_, i) => `m${i}: user { publicMetadata }`).join(' ');
const SLOW_QUERY = `subscription($id: ID!) { userEvents(userId: $id) { id ${heavy} } }`;

let t: TestApp;
let url: string;
let ws: Client;

beforeAll(async () => {
  t = await createTestApp({ env: { PORTCULLIS_SUBSCRIPTION_BUFFER: String(BUFFER), PORTCULLIS_RELAY_POLL_MS: '50', PORTCULLIS_MAX_ALIASES: String(ALIASES) } });
  ({ url } = await t.app.start());
  ws = wsClient(url, BOOTSTRAP_KEY);
});

afterAll(async () => {
  await ws?.dispose();
  await t?.close();
});

/** A graphql-ws client spoken by hand, so the test controls when the socket is read. */
async function rawSubscriber(query: string, variables: Record<string, unknown>) {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const messages: any[] = [];
  socket.on('message', (raw) => messages.push(JSON.parse(String(raw))));
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${BOOTSTRAP_KEY}` } }));
  await new Promise<void>((resolve) => {
    const check = () => (messages.some((m) => m.type === 'connection_ack') ? resolve() : setTimeout(check, 10));
    check();
  });
  socket.send(JSON.stringify({ id: 's1', type: 'subscribe', payload: { query, variables } }));
  const tcp = (socket as unknown as { _socket: import('node:net').Socket })._socket;
  return { socket, messages, pause: () => tcp.pause(), resume: () => tcp.resume() };
}

it('ends only the stalled subscription, with a resume cursor; the other subscriber gets every event', async () => {
  const created = await t.run(CreateUser, { metadata: { blob: 'x'.repeat(7_500) } });
  if (created.createUser.__typename !== 'CreateUserSuccess') throw new Error('createUser failed');
  const id = created.createUser.user.id;

  const slow = await rawSubscriber(SLOW_QUERY, { id });
  const fast = collect(ws, 'subscription($id: ID!) { userEvents(userId: $id) { id } }', { id });
  await subscribed(t.app, id, 2);
  slow.pause();
  for (let i = 0; i < EVENTS; i++) await t.run(Rename, { id, name: `n${i}` });

  const all = (await t.run(Log, { id })).events.edges.map((e) => e.node.id).slice(1);
  const fastGot = await fast.waitFor(EVENTS);
  expect(fastGot.map((r) => r.data.userEvents.id)).toEqual(all);

  slow.resume();
  await new Promise<void>((resolve) => {
    const check = () => (slow.messages.some((m) => m.type === 'complete') ? resolve() : setTimeout(check, 20));
    check();
  });
  const nexts = slow.messages.filter((m) => m.type === 'next');
  const last = nexts.at(-1);
  expect(last.payload.errors[0].extensions.code).toBe('SUBSCRIPTION_OVERFLOW');
  expect(last.payload.errors[0].message).toMatch(/fell more than 4 events behind/);
  const delivered = nexts.slice(0, -1).map((m) => m.payload.data.userEvents.id);
  expect(delivered.length).toBeLessThan(EVENTS);
  expect(delivered).toEqual(all.slice(0, delivered.length));
  expect(last.payload.errors[0].extensions.resumeAfter).toBe(delivered.at(-1));
  // Only that subscription ended: the socket stays open and the fast one keeps its stream.
  expect(slow.socket.readyState).toBe(WebSocket.OPEN);
  expect(fast.ended).toBeUndefined();

  // Resuming from the cursor delivers exactly the rest.
  const resumed = collect(ws, 'subscription($id: ID!, $after: ID) { userEvents(userId: $id, after: $after) { id } }', {
    id,
    after: last.payload.errors[0].extensions.resumeAfter,
  });
  const rest = await resumed.waitFor(all.length - delivered.length);
  expect(rest.map((r) => r.data.userEvents.id)).toEqual(all.slice(delivered.length));
  resumed.stop();
  fast.stop();
  slow.socket.close();
});
