/**
 * Contract of the passkeys store, on the provider under test: a challenge is
 * consumed at most once and never after it expired, a signature counter only
 * moves forward (of racing assertions one wins), and a credential id is
 * registered once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { isUniqueViolation } from '../../kernel/db/client.js';
import { newId } from '../../kernel/ids.js';
import { useStoreDatabase } from '../../../test/helpers/store-db.js';
import { createPasskeyStore, type PasskeyStore, type WebAuthnData } from './store.js';

const storeDb = useStoreDatabase();
const { inTx } = storeDb;
let store: PasskeyStore;
const t0 = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
const at = (ms: number) => new Date(t0.getTime() + ms);
const data: WebAuthnData = {
  publicKey: 'pQECAyYgASFYIA',
  transports: ['internal'],
  aaguid: '00000000-0000-0000-0000-000000000000',
  deviceType: 'singleDevice',
  backedUp: false,
  attestationFormat: 'none',
  discoverable: true,
};

beforeAll(() => {
  store = createPasskeyStore({ db: storeDb.db });
});

const newUser = () => storeDb.db.user.create({ data: { id: newId('User') } });
async function newCredential(counter: number) {
  const user = await newUser();
  return inTx((tx) => store.insertWebAuthnMethod(tx, { userId: user.id, kind: 'PASSKEY', name: 'Passkey', counter, credentialId: newId('Challenge'), data, now: t0 }));
}
async function newChallenge(expiresAt: Date) {
  const challenge = newId('Challenge');
  await store.insertChallenge({ challenge, purpose: 'authentication', userId: null, data: {}, expiresAt, now: t0 });
  return (await store.findChallenge(challenge))!;
}

describe('passkeys store: challenges', () => {
  it('consumes a challenge exactly once, even when two responses race', async () => {
    const row = await newChallenge(at(60_000));
    const results = await Promise.all([store.markChallengeConsumed(row.id, at(1_000)), store.markChallengeConsumed(row.id, at(1_000))]);
    expect(results.sort()).toEqual([false, true]);
    expect(await store.markChallengeConsumed(row.id, at(2_000))).toBe(false);
    expect((await store.findChallenge(row.challenge))!.consumedAt).toEqual(at(1_000));
  });

  it('does not consume a challenge at or after its expiry', async () => {
    const row = await newChallenge(at(60_000));
    expect(await store.markChallengeConsumed(row.id, at(60_000))).toBe(false);
    expect((await store.findChallenge(row.challenge))!.consumedAt).toBeNull();
  });

  it('sweeps only the challenges that expired before the given time', async () => {
    const old = await newChallenge(at(-1));
    const current = await newChallenge(at(0));
    await store.sweepExpiredChallenges(t0);
    expect(await store.findChallenge(old.challenge)).toBeNull();
    expect(await store.findChallenge(current.challenge)).not.toBeNull();
  });
});

describe('passkeys store: credentials', () => {
  it('registers a credential id once', async () => {
    const first = await newCredential(0);
    const again = inTx((tx) =>
      store.insertWebAuthnMethod(tx, { userId: first.userId, kind: 'U2F', name: 'Key', counter: 0, credentialId: first.credentialId!, data, now: t0 }),
    );
    await expect(again).rejects.toSatisfy(isUniqueViolation);
  });

  it('refuses to move a counter backwards or to the same value, and moves it forward', async () => {
    const method = await newCredential(5);
    const refreshed = { ...data, backedUp: true };
    expect(await inTx((tx) => store.advanceCounter(tx, method.id, { counter: 5, monotonic: true, data: refreshed, now: at(1_000) }))).toBeNull();
    expect(await inTx((tx) => store.advanceCounter(tx, method.id, { counter: 4, monotonic: true, data: refreshed, now: at(1_000) }))).toBeNull();
    // A refused advance writes nothing at all.
    expect(await storeDb.db.authMethod.findUniqueOrThrow({ where: { id: method.id } })).toMatchObject({ counter: 5, lastUsedAt: null, data });

    const advanced = await inTx((tx) => store.advanceCounter(tx, method.id, { counter: 6, monotonic: true, data: refreshed, now: at(2_000) }));
    expect(advanced).toMatchObject({ id: method.id, counter: 6, lastUsedAt: at(2_000), updatedAt: at(2_000), data: refreshed });
  });

  it('lets exactly one of two racing assertions with the same counter advance it', async () => {
    const method = await newCredential(1);
    const results = await Promise.all(
      [0, 1].map(() => inTx((tx) => store.advanceCounter(tx, method.id, { counter: 7, monotonic: true, data, now: at(1_000) }))),
    );
    expect(results.filter((r) => r !== null)).toHaveLength(1);
  });

  it('writes the use of an authenticator without counters (both zero) every time', async () => {
    const method = await newCredential(0);
    for (const ms of [1_000, 2_000]) {
      expect(await inTx((tx) => store.advanceCounter(tx, method.id, { counter: 0, monotonic: false, data, now: at(ms) }))).toMatchObject({ counter: 0, lastUsedAt: at(ms) });
    }
  });
});
