/**
 * The asymmetric keys that sign access tokens (EdDSA or ES256, via jose).
 *
 * One key is current: its id sits in SystemState under CURRENT_KEY. The first
 * instance to need a key creates it together with that row; the row's primary
 * key makes the creation conditional, so several instances starting at once on
 * one database agree on a single key (the losers adopt the winner's).
 * Rotation moves the pointer with a conditional update and retires the old key,
 * which stays published in the JWKS until every token it signed has expired
 * (retiredAt + access token lifetime).
 *
 * Private keys are stored as JWKs encrypted with AES-256-GCM under the server
 * key, bound to the key id (AAD), so a row copied onto another id fails to
 * decrypt.
 */
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Db } from '../../kernel/db/client.js';
import type { DirectSql } from '../../kernel/db/direct.js';
import { isUniqueViolation } from '../../kernel/db/client.js';
import type { SigningKey } from '../../kernel/db/models.js';
import { newId } from '../../kernel/ids.js';
import type { Clock } from '../../kernel/clock.js';
import { decryptSecret, encryptSecret } from '../../kernel/crypto.js';
import { createSessionStatements, createSigningKeyStore } from './store.js';

export type SigningAlg = 'EdDSA' | 'ES256';

/** How long a verifier trusts its cached "still current" status of a key before re-reading it. */
const RECHECK_CURRENT_MS = 30_000;

export { CURRENT_KEY } from './store.js';

export interface SigningKeyPolicy {
  alg: SigningAlg;
  /** Access token lifetime: how long a retired key must stay published. */
  accessTtlSeconds: number;
}

export interface CurrentSigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: CryptoKey;
}

export type SigningKeyService = ReturnType<typeof createSigningKeyService>;

export function createSigningKeyService(deps: { db: Db; direct?: DirectSql; clock: Clock; key: Buffer; policy: SigningKeyPolicy }) {
  const { db, clock, key, policy } = deps;
  const store = createSigningKeyStore(deps);
  // Every sign-in and refresh reads the current key: one prepared statement when the driver is at hand.
  const statements = deps.direct ? createSessionStatements(deps.direct) : undefined;
  // Imported keys by id; rows never change once written (only retiredAt does), so this cache needs no invalidation.
  const privateKeys = new Map<string, { alg: SigningAlg; key: Promise<CryptoKey> }>();
  const publicKeys = new Map<string, Promise<{ key: CryptoKey; row: SigningKey; checkedAt: number }>>();

  async function generateRow(alg: SigningAlg = policy.alg): Promise<{ id: string; alg: SigningAlg; publicJwk: JWK; privateKeyEncrypted: string }> {
    const id = newId('SigningKey');
    const pair = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: id, alg, use: 'sig' };
    const privateJwk = await exportJWK(pair.privateKey);
    return { id, alg, publicJwk, privateKeyEncrypted: encryptSecret(key, JSON.stringify(privateJwk), id) };
  }

  function importPrivate(row: Pick<SigningKey, 'id' | 'alg' | 'privateKeyEncrypted'>): Promise<CryptoKey> {
    let p = privateKeys.get(row.id);
    if (!p) {
      const jwk = JSON.parse(decryptSecret(key, row.privateKeyEncrypted, row.id)) as JWK;
      p = { alg: row.alg as SigningAlg, key: importJWK(jwk, row.alg) as Promise<CryptoKey> };
      privateKeys.set(row.id, p);
    }
    return p.key;
  }

  /** The id of the current key, creating the first key when there is none. */
  async function ensureSigningKey(): Promise<string> {
    const existing = await store.findCurrentKeyId();
    if (existing) return existing;
    const row = await generateRow();
    try {
      await db.$transaction(async (tx) => {
        await store.insertSigningKey(tx, { ...row, createdAt: clock.now() });
        // The conditional part: only one instance can create the pointer.
        await store.insertCurrentKeyPointer(tx, row.id);
      });
      return row.id;
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      const winner = await store.findCurrentKeyId();
      if (!winner) throw error;
      return winner;
    }
  }

  /** The time until which a key's tokens may still be presented; null while it is current. */
  const publishedUntil = (row: Pick<SigningKey, 'retiredAt'>) =>
    row.retiredAt ? new Date(row.retiredAt.getTime() + policy.accessTtlSeconds * 1000) : null;

  return {
    ensureSigningKey,

    /**
     * The key that signs new tokens (read from the database each time, so a
     * rotation on another instance applies at once). `currentKid`: its id as
     * the caller just read it in a statement of its own (the sign-in's), so
     * a key already imported needs no read here.
     */
    async currentSigningKey(currentKid?: string | null): Promise<CurrentSigningKey> {
      const known = currentKid ? privateKeys.get(currentKid) : undefined;
      if (known) return { kid: currentKid!, alg: known.alg, privateKey: await known.key };
      const current = await statements?.findCurrentSigningKey();
      if (current) return { kid: current.id, alg: current.alg as SigningAlg, privateKey: await importPrivate(current) };
      const kid = await ensureSigningKey();
      const row = await db.signingKey.findUniqueOrThrow({ where: { id: kid } });
      return { kid, alg: row.alg as SigningAlg, privateKey: await importPrivate(row) };
    },

    /**
     * The public key for a token's `kid`, or null when it is unknown or no
     * longer published (retired longer ago than a token lives).
     */
    async verificationKey(kid: string): Promise<{ key: CryptoKey; alg: SigningAlg } | null> {
      if (!/^sk_[0-9a-z]{26}$/.test(kid)) return null;
      let p = publicKeys.get(kid);
      if (!p) {
        const row = await db.signingKey.findUnique({ where: { id: kid } });
        if (!row) return null;
        const checkedAt = clock.now().getTime();
        p = (importJWK(row.publicJwk as JWK, row.alg) as Promise<CryptoKey>).then((k) => ({ key: k, row, checkedAt }));
        publicKeys.set(kid, p);
      }
      let { key: publicKey, row, checkedAt } = await p;
      if (!row.retiredAt && clock.now().getTime() - checkedAt > RECHECK_CURRENT_MS) {
        // Cached while current: re-read now and then, so a rotation on another instance starts its
        // retirement clock here too. Staleness is harmless: no token outlives retiredAt + its lifetime.
        const fresh = await db.signingKey.findUnique({ where: { id: kid }, select: { retiredAt: true } });
        if (!fresh) return null;
        checkedAt = clock.now().getTime();
        row = { ...row, retiredAt: fresh.retiredAt };
        publicKeys.set(kid, Promise.resolve({ key: publicKey, row, checkedAt }));
      }
      const until = publishedUntil(row);
      if (until && until <= clock.now()) return null;
      return { key: publicKey, alg: row.alg as SigningAlg };
    },

    /** The public JWK set: the current key and every retired key whose tokens may still be live. */
    async publicJwks(): Promise<{ keys: JWK[] }> {
      await ensureSigningKey();
      const since = new Date(clock.now().getTime() - policy.accessTtlSeconds * 1000);
      const rows = await db.signingKey.findMany({
        where: { OR: [{ retiredAt: null }, { retiredAt: { gt: since } }] },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      });
      return { keys: rows.map((r) => r.publicJwk as JWK) };
    },

    /**
     * Makes a new key current and retires the previous one. Two rotations
     * racing each other: the pointer moves only from the key each one read, so
     * exactly one wins; the other's key is discarded and the winner returned.
     * `alg` moves to another algorithm (default: the configured one).
     */
    async rotateSigningKey(alg?: SigningAlg): Promise<{ kid: string; retiredKid: string }> {
      const previous = await ensureSigningKey();
      const row = await generateRow(alg);
      const now = clock.now();
      const moved = await db.$transaction(async (tx) => {
        if (!(await store.moveCurrentKeyPointer(tx, previous, row.id))) return false;
        await store.insertSigningKey(tx, { ...row, createdAt: now });
        await store.retireSigningKey(tx, previous, now);
        return true;
      });
      if (!moved) return { kid: (await store.findCurrentKeyId()) ?? previous, retiredKid: previous };
      return { kid: row.id, retiredKid: previous };
    },
  };
}
