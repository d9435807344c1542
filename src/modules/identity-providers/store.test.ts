/**
 * Contract of the identity-providers store, on the provider under test: an
 * intent's callback is claimed once, it completes only while exchanging, it
 * is consumed once (with its token hash, before its expiry) even when uses
 * race, and a provider's account links to one user only.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { isUniqueViolation } from '../../kernel/db/client.js';
import { newId } from '../../kernel/ids.js';
import { testProvider } from '../../../test/helpers/db.js';
import { useStoreDatabase } from '../../../test/helpers/store-db.js';
import { createIdpStore, type IdpStore } from './store.js';

const storeDb = useStoreDatabase();
const { inTx } = storeDb;
let store: IdpStore;
const t0 = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
const at = (ms: number) => new Date(t0.getTime() + ms);
let idpId: string;

beforeAll(async () => {
  store = createIdpStore({ db: storeDb.db, provider: testProvider });
  idpId = newId('IdentityProvider');
  await inTx((tx) =>
    store.insertProvider(tx, {
      id: idpId,
      name: 'Store test',
      kind: 'OIDC',
      issuer: 'https://id.example.com',
      authorizationEndpoint: null,
      tokenEndpoint: null,
      userinfoEndpoint: null,
      emailsEndpoint: null,
      clientId: 'client',
      clientSecretEncrypted: null,
      scopes: 'openid',
      claimMapping: null,
      trustEmail: false,
      linkPolicy: 'PROMPT',
      storeTokens: false,
      enabled: true,
      now: t0,
    }),
  );
});

async function newIntent() {
  const id = newId('IdpIntent');
  await store.insertIntent({ id, idpId, purpose: 'SIGN_IN', linkUserId: null, stateHash: `state-${id}`, secretsEncrypted: 'sealed', successUrl: 'https://app.example.com/ok', failureUrl: 'https://app.example.com/ko', expiresAt: at(600_000), now: t0 });
  return id;
}

describe('identity-providers store: intents', () => {
  it('claims a callback once, completes it only while exchanging, and fails only what is not completed', async () => {
    const id = await newIntent();
    expect(await store.completeIntent(id, { tokenHash: 'h', subject: 's', resultEncrypted: 'r', now: t0 })).toBe(false);
    const claims = await Promise.all([0, 1, 2].map(() => store.claimIntentForCallback(id, at(1))));
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await store.completeIntent(id, { tokenHash: `token-${id}`, subject: 's', resultEncrypted: 'r', now: at(2) })).toBe(true);
    expect(await store.failIntent(id, 'PROVIDER_ERROR', at(3))).toBe(false);
    expect((await store.findIntent(storeDb.db, id))?.status).toBe('SUCCEEDED');

    const expired = await newIntent();
    expect(await store.claimIntentForCallback(expired, at(600_000))).toBe(false);
    expect(await store.failIntent(expired, 'PROVIDER_ERROR', at(1))).toBe(true);
    expect(await store.claimIntentForCallback(expired, at(1))).toBe(false);
  });

  it('consumes a succeeded intent once, with its own token hash, before it expires, and drops its result', async () => {
    const id = await newIntent();
    await store.claimIntentForCallback(id, at(1));
    await store.completeIntent(id, { tokenHash: `token-${id}`, subject: 's', resultEncrypted: 'r', now: at(2) });
    expect(await inTx((tx) => store.consumeIntent(tx, id, 'another-hash', at(3)))).toBe(false);
    expect(await inTx((tx) => store.consumeIntent(tx, id, `token-${id}`, at(600_000)))).toBe(false);
    const uses = await Promise.all([0, 1, 2].map(() => inTx((tx) => store.consumeIntent(tx, id, `token-${id}`, at(3)))));
    expect(uses.filter(Boolean)).toHaveLength(1);
    expect(await store.findIntent(storeDb.db, id)).toMatchObject({ status: 'CONSUMED', resultEncrypted: null });
  });

  it('sweeps intents that expired before a given instant', async () => {
    const id = await newIntent();
    expect(await store.deleteIntentsExpiredBefore(at(600_000))).toBe(0);
    expect(await store.deleteIntentsExpiredBefore(at(600_001))).toBeGreaterThan(0);
    expect(await store.findIntent(storeDb.db, id)).toBeNull();
  });
});

describe('identity-providers store: links', () => {
  it('links a provider account to one user only, and counts the other ways a user signs in', async () => {
    const users = await inTx(async (tx) => [
      await tx.user.create({ data: { id: newId('User'), updatedAt: t0 } }),
      await tx.user.create({ data: { id: newId('User'), updatedAt: t0 } }),
    ]);
    const link = (userId: string, subject: string) =>
      inTx((tx) => store.insertLink(tx, { userId, idpId, subject, username: null, email: null, emailVerified: false, profile: null, now: t0 }));
    const first = await link(users[0].id, 'subject-1');
    const taken = await link(users[1].id, 'subject-1').catch((error: unknown) => error);
    expect(isUniqueViolation(taken)).toBe(true);
    expect(await inTx((tx) => store.countOtherSignInMethods(tx, users[0].id, first.id))).toBe(0);
    await link(users[0].id, 'subject-2');
    expect(await inTx((tx) => store.countOtherSignInMethods(tx, users[0].id, first.id))).toBe(1);
    expect(await inTx((tx) => store.lockUser(tx, users[0].id))).toEqual({ id: users[0].id });
    expect(await inTx((tx) => store.lockUser(tx, 'usr_missing'))).toBeNull();
  });
});
