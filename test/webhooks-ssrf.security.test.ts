/**
 * Threat: server-side request forgery. Webhook URLs are chosen by API
 * callers and fetched from inside the gateway's network; a URL pointing at
 * loopback, a private network, link-local cloud metadata (169.254.169.254)
 * or an IPv6 spelling of those (IPv4-mapped, IPv4-compatible, NAT64, 6to4,
 * Teredo) would let a caller probe or hit internal services. They are
 * refused when an app is saved and again at
 * delivery, after DNS resolution (a name may be re-pointed after the app was
 * saved: DNS rebinding), and the request connects to the checked address.
 * PORTCULLIS_WEBHOOK_ALLOW_PRIVATE is unset here: the default is to refuse.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import type { WebhookRequest } from '../src/modules/webhooks/sender.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const CreateApp = graphql(`
  mutation SsrfCreateApp($url: String!) {
    createWebhookApp(input: { name: "ssrf", url: $url }) {
      __typename
      ... on CreateWebhookAppSuccess { webhookApp { id } }
      ... on InvalidInputError { code field message }
    }
  }
`);
const UpdateApp = graphql(`
  mutation SsrfUpdateApp($id: ID!, $url: String!) {
    updateWebhookApp(input: { id: $id, url: $url }) { __typename ... on InvalidInputError { field } }
  }
`);
const CreateUser = graphql(`
  mutation SsrfCreateUser { createUser(input: {}) { __typename } }
`);
const AppUrl = graphql(`
  query SsrfAppUrl($id: ID!) { node(id: $id) { ... on WebhookApp { url } } }
`);
const Deliveries = graphql(`
  query SsrfDeliveries($id: ID!) { node(id: $id) { ... on WebhookApp { deliveries(first: 5) { edges { node { status error attempts } } } } } }
`);

const dns: Record<string, string[]> = {
  'hooks.example.com': ['93.184.216.34'],
  'internal.example.com': ['10.0.0.7'],
  'v6.example.com': ['fd00::1'],
  'nat64.example.com': ['64:ff9b::a9fe:a9fe'],
  '6to4.example.com': ['2002:7f00:1::1'],
};
const sent: WebhookRequest[] = [];
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({
    clock: manualClock(new Date()),
    webhookLookup: async (host) => (dns[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    webhookSender: async (req) => {
      sent.push(req);
      return { status: 200 };
    },
  });
  await t.app.events.relay.tick();
});

afterAll(async () => {
  await t?.close();
});

it('refuses private, loopback, link-local and mapped addresses at creation and on update', async () => {
  for (const url of [
    'http://127.0.0.1:4000/graphql',
    'http://localhost/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://169.254.169.254/latest/meta-data/',
    'http://192.168.0.1/',
    'http://10.0.0.1/',
    'http://[fd00::1]/',
    'http://[fe80::1]/',
    'https://internal.example.com/hook',
    'https://v6.example.com/hook',
  ]) {
    const r = await t.run(CreateApp, { url });
    expect(r.createWebhookApp, url).toMatchObject({ __typename: 'InvalidInputError', code: 'INVALID_INPUT', field: 'url' });
  }
  const ok = await t.run(CreateApp, { url: 'https://hooks.example.com/hook' });
  if (ok.createWebhookApp.__typename !== 'CreateWebhookAppSuccess') throw new Error('public URL refused');
  const update = await t.run(UpdateApp, { id: ok.createWebhookApp.webhookApp.id, url: 'http://127.0.0.1/' });
  expect(update.updateWebhookApp).toEqual({ __typename: 'InvalidInputError', field: 'url' });
});

it('checks again at delivery time and connects to the checked address (DNS rebinding)', async () => {
  const created = await t.run(CreateApp, { url: 'https://rebind.example.com/hook' }).catch(() => undefined);
  expect(created?.createWebhookApp.__typename).toBe('InvalidInputError'); // does not resolve yet
  dns['rebind.example.com'] = ['93.184.216.34'];
  const r = await t.run(CreateApp, { url: 'https://rebind.example.com/hook' });
  if (r.createWebhookApp.__typename !== 'CreateWebhookAppSuccess') throw new Error('refused');
  const appId = r.createWebhookApp.webhookApp.id;

  await t.run(CreateUser);
  await t.app.events.relay.tick();
  await t.app.events.dispatcher.runOnce();
  const toRebind = sent.filter((s) => s.url.hostname === 'rebind.example.com');
  expect(toRebind).toHaveLength(1);
  expect(toRebind[0].address).toBe('93.184.216.34');

  // The name now points inside: the next delivery is refused before any request is made.
  dns['rebind.example.com'] = ['127.0.0.1'];
  sent.length = 0;
  await t.run(CreateUser);
  await t.app.events.relay.tick();
  await t.app.events.dispatcher.runOnce();
  expect(sent.filter((s) => s.url.hostname === 'rebind.example.com')).toHaveLength(0);
  const deliveries = (await t.run(Deliveries, { id: appId })).node as { deliveries: { edges: Array<{ node: { status: string; error: string | null } }> } };
  const refused = deliveries.deliveries.edges.map((e) => e.node).find((d) => d.error);
  expect(refused).toMatchObject({ status: 'PENDING', error: expect.stringMatching(/private, loopback or link-local/) });
});

it('refuses IPv6 transition forms that embed an internal IPv4 address, and saves a public address', async () => {
  // Saved, not delivered: nothing here runs the dispatcher, and this file's sender only records.
  const publicUrls = ['http://[2606:4700:4700::1111]/hook', 'http://93.184.216.34/hook'];
  const ids: string[] = [];
  for (const url of publicUrls) {
    const r = await t.run(CreateApp, { url });
    if (r.createWebhookApp.__typename !== 'CreateWebhookAppSuccess') throw new Error(`public URL refused: ${url}`);
    ids.push(r.createWebhookApp.webhookApp.id);
  }

  for (const url of [
    'http://[::127.0.0.1]/', // IPv4-compatible
    'http://[::ffff:0:127.0.0.1]/', // IPv4-translated (RFC 6145)
    'http://[::ffff:7f00:1]/', // IPv4-mapped, hex
    'http://[::ffff:10.0.0.1]/',
    'http://[64:ff9b::a9fe:a9fe]/', // NAT64 well-known prefix: 169.254.169.254
    'http://[64:ff9b:1::7f00:1]/', // NAT64 local-use prefix (RFC 8215)
    'http://[2002:7f00:1::1]/', // 6to4 of 127.0.0.1
    'http://[2002:a9fe:a9fe::1]/', // 6to4 of 169.254.169.254
    'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', // Teredo
    'https://nat64.example.com/hook',
    'https://6to4.example.com/hook',
  ]) {
    const created = await t.run(CreateApp, { url });
    expect(created.createWebhookApp, url).toMatchObject({ __typename: 'InvalidInputError', code: 'INVALID_INPUT', field: 'url' });
    const updated = await t.run(UpdateApp, { id: ids[0], url });
    expect(updated.updateWebhookApp, url).toEqual({ __typename: 'InvalidInputError', field: 'url' });
  }

  const saved = await Promise.all(ids.map(async (id) => ((await t.run(AppUrl, { id })).node as { url: string }).url));
  expect(saved).toEqual(publicUrls);
  expect(sent.filter((s) => ['[2606:4700:4700::1111]', '93.184.216.34'].includes(s.url.hostname))).toEqual([]);
});
