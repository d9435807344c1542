/**
 * The passkeys module's writes: ceremony challenges (WebAuthnChallenge) and
 * the PASSKEY / U2F auth methods. The two conditional writes carry the
 * module's replay protection: a challenge is consumed at most once, and a
 * signature counter only moves forward.
 */
import type { AuthenticatorTransport } from '@simplewebauthn/server';
import type { Db, Tx } from '../../kernel/db/client.js';
import type { AuthMethod, WebAuthnChallenge } from '../../kernel/db/models.js';
import { newId } from '../../kernel/ids.js';
import { newAuthMethodId } from '../auth-methods/kinds.js';

/** What a stored credential keeps in AuthMethod.data (all public; the public key is not a secret). */
export interface WebAuthnData {
  publicKey: string;
  transports: AuthenticatorTransport[];
  aaguid: string;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  attestationFormat: string;
  /** From the credProps extension when the client reported it. */
  discoverable: boolean | null;
}

export type PasskeyStore = ReturnType<typeof createPasskeyStore>;

export function createPasskeyStore(deps: { db: Db }) {
  const { db } = deps;
  return {
    /** Deletes the challenges that expired before `before`. */
    async sweepExpiredChallenges(before: Date): Promise<void> {
      await db.webAuthnChallenge.deleteMany({ where: { expiresAt: { lt: before } } });
    },

    async insertChallenge(row: { challenge: string; purpose: string; userId: string | null; data: object; expiresAt: Date; now: Date }): Promise<void> {
      await db.webAuthnChallenge.create({
        data: { id: newId('Challenge'), userId: row.userId, purpose: row.purpose, challenge: row.challenge, data: row.data, expiresAt: row.expiresAt, createdAt: row.now },
      });
    },

    findChallenge(challenge: string): Promise<WebAuthnChallenge | null> {
      return db.webAuthnChallenge.findUnique({ where: { challenge } });
    },

    /**
     * Consumes a challenge: conditional on it being unconsumed and unexpired
     * at `now`, so of two racing responses one wins. False when it was not.
     */
    async markChallengeConsumed(id: string, now: Date): Promise<boolean> {
      const { count } = await db.webAuthnChallenge.updateMany({
        where: { id, consumedAt: null, expiresAt: { gt: now } },
        data: { consumedAt: now },
      });
      return count === 1;
    },

    /**
     * Inserts a verified credential inside the caller's transaction. A
     * credential id registered before fails with a unique violation (P2002).
     */
    insertWebAuthnMethod(
      tx: Tx,
      row: { userId: string; kind: 'PASSKEY' | 'U2F'; name: string; counter: number; credentialId: string; data: WebAuthnData; now: Date },
    ): Promise<AuthMethod> {
      return tx.authMethod.create({
        data: {
          id: newAuthMethodId(row.kind),
          userId: row.userId,
          kind: row.kind,
          verified: true,
          name: row.name,
          counter: row.counter,
          credentialId: row.credentialId,
          data: row.data as object,
          createdAt: row.now,
          updatedAt: row.now,
        },
      });
    },

    /**
     * Moves a credential's signature counter to `counter` and writes its use
     * (lastUsedAt, the refreshed data), inside the caller's transaction. With
     * `monotonic` (the authenticator uses counters), only while the stored
     * counter is below `counter`: of two racing assertions one wins, and a
     * regression or a replayed value writes nothing. Returns the credential
     * as written, or null when nothing was.
     */
    async advanceCounter(tx: Tx, methodId: string, change: { counter: number; monotonic: boolean; data: WebAuthnData; now: Date }): Promise<AuthMethod | null> {
      const { count } = await tx.authMethod.updateMany({
        where: { id: methodId, ...(change.monotonic ? { counter: { lt: change.counter } } : {}) },
        data: { counter: change.counter, lastUsedAt: change.now, updatedAt: change.now, data: change.data as object },
      });
      if (count === 0) return null;
      return tx.authMethod.findUniqueOrThrow({ where: { id: methodId } });
    },
  };
}
