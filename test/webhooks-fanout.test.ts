/**
 * Fan-out keeps the list of enabled apps between batches, and reads it again
 * when a batch holds a webhook_app.* event (every change to an app records
 * one in the same transaction) or when this instance starts fanning out
 * again. An app hears every event after its creation and none after it is
 * disabled or deleted, also when the change and the event share a batch.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { newId } from '../src/kernel/ids.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const Create = graphql(`
  mutation FanOutCreateApp($input: CreateWebhookAppInput!) {
    createWebhookApp(input: $input) { __typename ... on CreateWebhookAppSuccess { webhookApp { id } } }
  }
`);
const Update = graphql(`
  mutation FanOutUpdateApp($input: UpdateWebhookAppInput!) { updateWebhookApp(input: $input) { __typename } }
`);
const Delete = graphql(`
  mutation FanOutDeleteApp($id: ID!) { deleteWebhookApp(input: { id: $id }) { __typename } }
`);

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: 'true' } });
});
afterAll(() => t.close());

it('meets each event with the apps of its place in the log', async () => {
  const db = t.app.database.client;
  let seen = 0;
  /** Fans out what was recorded since the last call, as the relay would. */
  const fanOutNew = async (restarted = false) => {
    const batch = await db.event.findMany({ where: { seq: { gt: seen } }, orderBy: { seq: 'asc' } });
    seen = batch.at(-1)?.seq ?? seen;
    await t.app.services.webhooks.fanOut(batch, restarted);
  };
  const createApp = async (name: string) => {
    const r = await t.run(Create, { input: { name, url: `http://127.0.0.1:9/${name}` } });
    if (r.createWebhookApp.__typename !== 'CreateWebhookAppSuccess') throw new Error('create failed');
    return r.createWebhookApp.webhookApp.id;
  };
  const newUserEvent = async (email: string) => {
    await t.app.services.users.createUser({ email }, systemMeta);
    return (await db.event.findFirstOrThrow({ where: { type: 'user.created' }, orderBy: { seq: 'desc' } })).id;
  };
  const receivers = async (eventId: string) =>
    (await db.webhookDelivery.findMany({ where: { eventId }, select: { appId: true } })).map((d) => d.appId).sort();

  const a = await createApp('a');
  await fanOutNew();
  const first = await newUserEvent('first@example.com');
  await fanOutNew();
  expect(await receivers(first)).toEqual([a]);

  // Created in the same batch as the event that follows it.
  const b = await createApp('b');
  const second = await newUserEvent('second@example.com');
  await fanOutNew();
  expect(await receivers(second)).toEqual([a, b].sort());

  // Disabled, then deleted, each in the same batch as the next event.
  expect((await t.run(Update, { input: { id: a, enabled: false } })).updateWebhookApp.__typename).toBe('UpdateWebhookAppSuccess');
  const third = await newUserEvent('third@example.com');
  await fanOutNew();
  expect(await receivers(third)).toEqual([b]);
  expect((await t.run(Delete, { id: b })).deleteWebhookApp.__typename).toBe('DeleteWebhookAppSuccess');
  const fourth = await newUserEvent('fourth@example.com');
  await fanOutNew();
  expect(await receivers(fourth)).toEqual([]);

  // An app whose creation this instance never fanned out (another instance held
  // the lease then): read again when this instance starts fanning out again.
  const c = newId('WebhookApp');
  await db.webhookApp.create({ data: { id: c, name: 'c', url: 'http://127.0.0.1:9/c', eventTypes: [], secretEncrypted: 'unused' } });
  const fifth = await newUserEvent('fifth@example.com');
  await fanOutNew(true);
  expect(await receivers(fifth)).toEqual([c]);
});
