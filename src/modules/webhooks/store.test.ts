/**
 * Contract of the webhooks store, on the provider under test: queueing a
 * delivery is idempotent per app and event even when fan-outs race, a due
 * delivery is claimed by one instance only, and the conditional app writes
 * (secret rotation, disabling) apply once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../kernel/ids.js';
import { useStoreDatabase } from '../../../test/helpers/store-db.js';
import { createWebhookStore, type NewDelivery, type WebhookStore } from './store.js';

const storeDb = useStoreDatabase();
const { inTx } = storeDb;
let store: WebhookStore;
const t0 = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
const at = (ms: number) => new Date(t0.getTime() + ms);

beforeAll(() => {
  store = createWebhookStore({ db: storeDb.db });
});

const newApp = (eventTypes: string[] = []) =>
  inTx((tx) => store.insertWebhookApp(tx, { id: newId('WebhookApp'), name: 'Receiver', url: 'https://hooks.example/in', eventTypes, secretEncrypted: 'secret-1', now: t0 }));
const delivery = (appId: string, eventId = newId('UserEvent'), nextAttemptAt = t0): NewDelivery => ({
  appId,
  eventId,
  eventType: 'user.created',
  payload: { type: 'user.created', data: {} },
  status: 'PENDING',
  nextAttemptAt,
  createdAt: t0,
  updatedAt: t0,
});
const deliveriesOf = (appId: string) => storeDb.db.webhookDelivery.findMany({ where: { appId } });

describe('webhooks store: deliveries', () => {
  it('inserts one delivery per app and event, however often and however concurrently it is queued', async () => {
    const app = await newApp();
    const row = delivery(app.id);
    expect(await store.insertDeliveryIfAbsent(row)).toBe(true);
    expect(await store.insertDeliveryIfAbsent(row)).toBe(false);

    const raced = delivery(app.id);
    const results = await Promise.all([0, 1, 2].map(() => store.insertDeliveryIfAbsent(raced)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await deliveriesOf(app.id)).map((d) => d.eventId).sort()).toEqual([row.eventId, raced.eventId].sort());

    // The same event to another app is another delivery.
    const other = await newApp();
    expect(await store.insertDeliveryIfAbsent({ ...row, appId: other.id })).toBe(true);
  });

  it('lets exactly one of two instances claim a due delivery, and neither claim one not yet due', async () => {
    const app = await newApp();
    await store.insertDeliveryIfAbsent(delivery(app.id, undefined, at(0)));
    const [due] = await deliveriesOf(app.id);
    const claims = await Promise.all([store.claimDueDelivery(due, at(1_000), at(30_000)), store.claimDueDelivery(due, at(1_000), at(30_000))]);
    expect(claims.sort()).toEqual([false, true]);
    expect(await storeDb.db.webhookDelivery.findUniqueOrThrow({ where: { id: due.id } })).toMatchObject({
      attempts: 1,
      nextAttemptAt: at(30_000),
      updatedAt: at(1_000),
    });
    // The same stale read cannot claim again, even once the claim lapsed.
    expect(await store.claimDueDelivery(due, at(31_000), at(60_000))).toBe(false);

    await store.insertDeliveryIfAbsent(delivery(app.id, undefined, at(5_000)));
    const later = (await deliveriesOf(app.id)).find((d) => d.id !== due.id)!;
    expect(await store.claimDueDelivery(later, at(4_999), at(30_000))).toBe(false);
    expect(await store.claimDueDelivery(later, at(5_000), at(30_000))).toBe(true);
  });

  it('finds the due pending deliveries of enabled apps, longest waiting first, up to the limit', async () => {
    const app = await newApp();
    const off = await newApp();
    // Earlier than every other test's deliveries, so that only these are due.
    for (const ms of [3_000, 1_000, 2_000, 9_000]) await store.insertDeliveryIfAbsent(delivery(app.id, undefined, at(-100_000 + ms)));
    await store.insertDeliveryIfAbsent(delivery(off.id, undefined, at(-100_000)));
    await inTx((tx) => store.disableWebhookApp(tx, off.id, 'test', t0));
    expect((await store.findDueDeliveries(at(-95_000), 2)).map((d) => d.nextAttemptAt)).toEqual([at(-99_000), at(-98_000)]);
    expect((await store.findDueDeliveries(at(-95_000), 10)).map((d) => d.nextAttemptAt)).toEqual([at(-99_000), at(-98_000), at(-97_000)]);
  });

  it('records an attempt together with the state it leaves the delivery in', async () => {
    const app = await newApp();
    await store.insertDeliveryIfAbsent(delivery(app.id));
    const [d] = await deliveriesOf(app.id);
    await store.recordDeliveryAttempt(d.id, { attemptedAt: at(1_000), statusCode: 503, latencyMs: 12, error: 'HTTP 503' }, { status: 'PENDING', nextAttemptAt: at(61_000), now: at(1_100) });
    expect(await storeDb.db.webhookAttempt.findMany({ where: { deliveryId: d.id } })).toMatchObject([{ attemptedAt: at(1_000), statusCode: 503, latencyMs: 12, error: 'HTTP 503' }]);
    expect(await storeDb.db.webhookDelivery.findUniqueOrThrow({ where: { id: d.id } })).toMatchObject({
      status: 'PENDING',
      nextAttemptAt: at(61_000),
      lastStatusCode: 503,
      lastError: 'HTTP 503',
      lastLatencyMs: 12,
      updatedAt: at(1_100),
    });
  });

  it('requeues an existing delivery only', async () => {
    const app = await newApp();
    await store.insertDeliveryIfAbsent(delivery(app.id));
    const [d] = await deliveriesOf(app.id);
    await storeDb.db.webhookDelivery.update({ where: { id: d.id }, data: { status: 'FAILED', nextAttemptAt: null } });
    expect(await store.requeueDelivery(d.id, at(7_000))).toBe(true);
    expect(await storeDb.db.webhookDelivery.findUniqueOrThrow({ where: { id: d.id } })).toMatchObject({ status: 'PENDING', nextAttemptAt: at(7_000) });
    expect(await store.requeueDelivery('whd_missing', at(7_000))).toBe(false);
  });
});

describe('webhooks store: apps', () => {
  it('lists only the enabled apps, with their event types', async () => {
    const on = await newApp(['user.locked', 'user.created']);
    const off = await newApp();
    await inTx((tx) => store.disableWebhookApp(tx, off.id, 'test', t0));
    const apps = await store.findEnabledApps();
    expect(apps.find((a) => a.id === on.id)).toEqual({ id: on.id, eventTypes: ['user.locked', 'user.created'] });
    expect(apps.find((a) => a.id === off.id)).toBeUndefined();
  });

  it('rotates a secret once for two rotations from the same read', async () => {
    const app = await newApp();
    const rotate = (secret: string) =>
      inTx((tx) =>
        store.replaceWebhookAppSecret(tx, app.id, { expectedSecretEncrypted: 'secret-1', secretEncrypted: secret, previousSecretEncrypted: 'secret-1', previousSecretExpiresAt: at(60_000), now: at(1_000) }),
      );
    const results = await Promise.all([rotate('secret-a'), rotate('secret-b')]);
    expect(results.sort()).toEqual([false, true]);
    const stored = await storeDb.db.webhookApp.findUniqueOrThrow({ where: { id: app.id } });
    expect(['secret-a', 'secret-b']).toContain(stored.secretEncrypted);
    expect(stored).toMatchObject({ previousSecretEncrypted: 'secret-1', previousSecretExpiresAt: at(60_000) });
  });

  it('disables an enabled app once, and updates and deletes only an app that exists', async () => {
    const app = await newApp();
    expect(await inTx((tx) => store.disableWebhookApp(tx, app.id, 'failing', at(1_000)))).toMatchObject({ id: app.id, enabled: false });
    expect(await inTx((tx) => store.disableWebhookApp(tx, app.id, 'failing', at(2_000)))).toBeNull();
    expect((await storeDb.db.webhookApp.findUniqueOrThrow({ where: { id: app.id } })).disabledReason).toBe('failing');

    expect(await inTx((tx) => store.updateWebhookApp(tx, app.id, { name: 'Renamed', enabled: true, disabledReason: null, updatedAt: at(3_000) }))).toMatchObject({
      name: 'Renamed',
      enabled: true,
      updatedAt: at(3_000),
    });
    expect(await inTx((tx) => store.updateWebhookApp(tx, 'wha_missing', { updatedAt: at(3_000) }))).toBeNull();

    await store.insertDeliveryIfAbsent(delivery(app.id));
    expect(await inTx((tx) => store.deleteWebhookApp(tx, app.id))).toBe(true);
    expect(await inTx((tx) => store.deleteWebhookApp(tx, app.id))).toBe(false);
    // Its deliveries went with it.
    expect(await deliveriesOf(app.id)).toEqual([]);
  });
});
