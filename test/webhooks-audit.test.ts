/**
 * Threat: someone holding an API key adds a webhook to siphon every user event,
 * or quietly points an existing one elsewhere. Every change to a webhook app
 * is in the audit log with its actor, without the secret, and is not sent to
 * the other apps' receivers.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const Create = graphql(`
  mutation AuditCreateApp($input: CreateWebhookAppInput!) {
    createWebhookApp(input: $input) { __typename ... on CreateWebhookAppSuccess { secret webhookApp { id } } }
  }
`);
const Update = graphql(`
  mutation AuditUpdateApp($input: UpdateWebhookAppInput!) { updateWebhookApp(input: $input) { __typename } }
`);
const Rotate = graphql(`
  mutation AuditRotateApp($id: ID!) { rotateWebhookAppSecret(input: { id: $id }) { __typename ... on RotateWebhookAppSecretSuccess { secret } } }
`);
const Delete = graphql(`
  mutation AuditDeleteApp($id: ID!) { deleteWebhookApp(input: { id: $id }) { __typename } }
`);
const AuditLog = graphql(`
  query AuditLog {
    events(first: 20, types: [WEBHOOK_APP_CREATED, WEBHOOK_APP_UPDATED, WEBHOOK_APP_SECRET_ROTATED, WEBHOOK_APP_DELETED]) {
      edges { node { type userId data actor { type } } }
    }
  }
`);

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: 'true' } });
});
afterAll(() => t.close());

it('records every change to a webhook app, without secrets, and sends none of it to other receivers', async () => {
  const bystander = await t.run(Create, { input: { name: 'bystander', url: 'http://127.0.0.1:9/hooks' } });
  if (bystander.createWebhookApp.__typename !== 'CreateWebhookAppSuccess') throw new Error('create failed');
  const created = await t.run(Create, { input: { name: 'siphon', url: 'http://127.0.0.1:9/in?token=abc', eventTypes: ['USER_CREATED'] } });
  if (created.createWebhookApp.__typename !== 'CreateWebhookAppSuccess') throw new Error('create failed');
  const id = created.createWebhookApp.webhookApp.id;
  expect((await t.run(Update, { input: { id, url: 'http://127.0.0.1:9/elsewhere' } })).updateWebhookApp.__typename).toBe('UpdateWebhookAppSuccess');
  const rotated = await t.run(Rotate, { id });
  if (rotated.rotateWebhookAppSecret.__typename !== 'RotateWebhookAppSecretSuccess') throw new Error('rotate failed');
  expect((await t.run(Delete, { id })).deleteWebhookApp.__typename).toBe('DeleteWebhookAppSuccess');

  const log = (await t.run(AuditLog, undefined)).events.edges.map((e) => e.node);
  expect(log.map((e) => e.type)).toEqual(['WEBHOOK_APP_CREATED', 'WEBHOOK_APP_CREATED', 'WEBHOOK_APP_UPDATED', 'WEBHOOK_APP_SECRET_ROTATED', 'WEBHOOK_APP_DELETED']);
  for (const e of log) expect(e).toMatchObject({ userId: null, actor: { type: 'bootstrap_key' } });
  expect(log[1].data).toMatchObject({ appId: id, name: 'siphon', origin: 'http://127.0.0.1:9', path: '/in' });
  expect(log[2].data).toMatchObject({ appId: id, path: '/elsewhere', changes: ['url'] });
  const text = JSON.stringify(log);
  expect(text).not.toContain(created.createWebhookApp.secret);
  expect(text).not.toContain(rotated.rotateWebhookAppSecret.secret);
  expect(text).not.toContain('token=abc');

  // The bystander, subscribed to everything, is queued a user event but nothing about another app.
  await t.app.services.users.createUser({ email: 'audit@example.com' }, systemMeta);
  const db = t.app.database.client;
  await t.app.services.webhooks.fanOut(await db.event.findMany({ orderBy: { seq: 'asc' } }));
  const queued = await db.webhookDelivery.findMany({ select: { eventType: true, appId: true } });
  expect(queued).toEqual([{ eventType: 'user.created', appId: bystander.createWebhookApp.webhookApp.id }]);
});
