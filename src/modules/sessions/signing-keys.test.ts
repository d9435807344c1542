import { SignJWT, jwtVerify, createLocalJWKSet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, ENCRYPTION_KEY, type TestApp } from '../../../test/helpers/app.js';
import { manualClock } from '../../kernel/clock.js';
import { decryptSecret } from '../../kernel/crypto.js';
import { CURRENT_KEY, createSigningKeyService, type SigningAlg } from './signing-keys.js';

const clock = manualClock();
const key = Buffer.from(ENCRYPTION_KEY, 'base64');
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ clock });
});
afterAll(() => t.close());

/** A service as one gateway instance would build it; several share the database. */
const instance = (alg: SigningAlg = 'EdDSA') => createSigningKeyService({ db: t.app.database.client, clock, key, policy: { alg, accessTtlSeconds: 900 } });

async function reset() {
  await t.app.database.client.systemState.deleteMany({ where: { key: CURRENT_KEY } });
  await t.app.database.client.signingKey.deleteMany({});
}

describe('signing keys', () => {
  it('agree on one key when several instances start at once on one database', async () => {
    await reset();
    const kids = await Promise.all(Array.from({ length: 6 }, () => instance().ensureSigningKey()));
    expect(new Set(kids).size).toBe(1);
    expect(await t.app.database.client.signingKey.count()).toBe(1);
  });

  it('store the private key encrypted and bound to its id, and publish only the public part', async () => {
    await reset();
    const svc = instance();
    const kid = await svc.ensureSigningKey();
    const row = await t.app.database.client.signingKey.findUniqueOrThrow({ where: { id: kid } });
    expect(row.privateKeyEncrypted).toMatch(/^v1\./);
    expect(row.privateKeyEncrypted).not.toContain('"d"');
    expect(JSON.parse(decryptSecret(key, row.privateKeyEncrypted, kid))).toHaveProperty('d');
    expect(() => decryptSecret(key, row.privateKeyEncrypted, 'sk_other')).toThrow();
    const jwks = await svc.publicJwks();
    expect(jwks.keys).toEqual([expect.objectContaining({ kid, alg: 'EdDSA', use: 'sig', kty: 'OKP', crv: 'Ed25519' })]);
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  for (const alg of ['EdDSA', 'ES256'] as const) {
    it(`sign with ${alg} verifiably against the published set`, async () => {
      await reset();
      const svc = instance(alg);
      const current = await svc.currentSigningKey();
      const token = await new SignJWT({ hello: 'world' }).setProtectedHeader({ alg, kid: current.kid }).sign(current.privateKey);
      const { payload } = await jwtVerify(token, createLocalJWKSet(await svc.publicJwks()));
      expect(payload.hello).toBe('world');
      expect((await svc.verificationKey(current.kid))?.alg).toBe(alg);
    });
  }

  it('rotate: exactly one of two racing rotations wins; the retired key stays published until its tokens expire', async () => {
    await reset();
    const a = instance();
    const b = instance();
    const first = await a.ensureSigningKey();
    expect(await b.verificationKey(first)).not.toBeNull();
    const [ra, rb] = await Promise.all([a.rotateSigningKey(), b.rotateSigningKey()]);
    expect(ra.kid).toBe(rb.kid);
    expect(ra.retiredKid).toBe(first);
    const rows = await t.app.database.client.signingKey.findMany();
    expect(rows).toHaveLength(2);
    // The other instance sees the rotation at once.
    expect((await b.currentSigningKey()).kid).toBe(ra.kid);
    expect((await a.publicJwks()).keys.map((k) => k.kid)).toEqual([ra.kid, first]);
    expect(await a.verificationKey(first)).not.toBeNull();

    clock.advance(900_000 + 1000);
    expect((await a.publicJwks()).keys.map((k) => k.kid)).toEqual([ra.kid]);
    // Instance b cached the old key while it was current: it still learns of its retirement.
    expect(await b.verificationKey(first)).toBeNull();
    expect(await a.verificationKey(ra.kid)).not.toBeNull();
  });

  it('answer null for a kid that is malformed or unknown', async () => {
    const svc = instance();
    expect(await svc.verificationKey('../../etc')).toBeNull();
    expect(await svc.verificationKey('sk_00000000000000000000000000')).toBeNull();
  });
});
