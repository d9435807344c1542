/**
 * The identity-providers module's reads and writes: providers, links and
 * intents. The conditional updates carry the module's replay protection: an
 * intent's callback runs once (STARTED → EXCHANGING), and an intent is
 * consumed at most once (SUCCEEDED → CONSUMED, matching its token hash and
 * unexpired): of two racing requests one wins.
 */
import { Prisma, type Db, type Tx } from '../../kernel/db/client.js';
import type { DatabaseProvider } from '../../config.js';
import type { IdentityProvider, IdpIntent, IdpLink } from '../../kernel/db/models.js';
import { newId } from '../../kernel/ids.js';
import type { ProviderColumns } from './providers.js';

type Reader = Db | Tx;

export type IntentStatus = 'STARTED' | 'EXCHANGING' | 'SUCCEEDED' | 'FAILED' | 'CONSUMED';

/** The columns of a link the provider's latest answer refreshes. */
export interface LinkProfileColumns {
  username: string | null;
  email: string | null;
  emailVerified: boolean;
  profile: object | null;
}

export type IdpStore = ReturnType<typeof createIdpStore>;

export function createIdpStore(deps: { db: Db; provider: DatabaseProvider }) {
  const { db } = deps;
  const json = (value: object | null | undefined) => (value === null || value === undefined ? Prisma.DbNull : (value as Prisma.InputJsonValue));

  return {
    // Providers.

    insertProvider(tx: Tx, row: ProviderColumns & { id: string; clientSecretEncrypted: string | null; now: Date }): Promise<IdentityProvider> {
      const { now, claimMapping, ...columns } = row;
      return tx.identityProvider.create({ data: { ...columns, claimMapping: json(claimMapping), createdAt: now, updatedAt: now } });
    },

    /** `clientSecretEncrypted` undefined leaves the secret alone. */
    updateProvider(tx: Tx, id: string, row: ProviderColumns & { clientSecretEncrypted?: string | null; now: Date }): Promise<IdentityProvider> {
      const { now, claimMapping, kind: _kind, ...columns } = row;
      return tx.identityProvider.update({ where: { id }, data: { ...columns, claimMapping: json(claimMapping), updatedAt: now } });
    },

    async deleteProvider(tx: Tx, id: string): Promise<boolean> {
      const { count } = await tx.identityProvider.deleteMany({ where: { id } });
      return count === 1;
    },

    findProvider(reader: Reader, id: string): Promise<IdentityProvider | null> {
      return reader.identityProvider.findUnique({ where: { id } });
    },

    findLinksOfProvider(tx: Tx, idpId: string): Promise<IdpLink[]> {
      return tx.idpLink.findMany({ where: { idpId }, orderBy: { id: 'asc' } });
    },

    // Intents.

    insertIntent(row: {
      id: string;
      idpId: string;
      purpose: 'SIGN_IN' | 'LINK';
      linkUserId: string | null;
      stateHash: string;
      secretsEncrypted: string;
      successUrl: string;
      failureUrl: string;
      expiresAt: Date;
      now: Date;
    }): Promise<IdpIntent> {
      const { now, ...columns } = row;
      return db.idpIntent.create({ data: { ...columns, status: 'STARTED', createdAt: now } });
    },

    findIntentByStateHash(stateHash: string): Promise<IdpIntent | null> {
      return db.idpIntent.findUnique({ where: { stateHash } });
    },

    findIntent(reader: Reader, id: string): Promise<IdpIntent | null> {
      return reader.idpIntent.findUnique({ where: { id } });
    },

    /** STARTED → EXCHANGING while unexpired: one callback per intent does the code exchange. */
    async claimIntentForCallback(id: string, now: Date): Promise<boolean> {
      const { count } = await db.idpIntent.updateMany({ where: { id, status: 'STARTED', expiresAt: { gt: now } }, data: { status: 'EXCHANGING' } });
      return count === 1;
    },

    /** EXCHANGING → SUCCEEDED with what came back; false when the intent is no longer exchanging. */
    async completeIntent(id: string, row: { tokenHash: string; subject: string; resultEncrypted: string; now: Date }): Promise<boolean> {
      const { count } = await db.idpIntent.updateMany({
        where: { id, status: 'EXCHANGING' },
        data: { status: 'SUCCEEDED', tokenHash: row.tokenHash, subject: row.subject, resultEncrypted: row.resultEncrypted, completedAt: row.now },
      });
      return count === 1;
    },

    async failIntent(id: string, reason: string, now: Date): Promise<boolean> {
      const { count } = await db.idpIntent.updateMany({
        where: { id, status: { in: ['STARTED', 'EXCHANGING'] } },
        data: { status: 'FAILED', failureReason: reason, completedAt: now },
      });
      return count === 1;
    },

    /**
     * SUCCEEDED → CONSUMED inside the caller's transaction, conditional on the
     * token hash and the expiry: of two racing uses one wins. What the
     * provider returned is dropped with it.
     */
    async consumeIntent(tx: Tx, id: string, tokenHash: string, now: Date): Promise<boolean> {
      const { count } = await tx.idpIntent.updateMany({
        where: { id, tokenHash, status: 'SUCCEEDED', expiresAt: { gt: now } },
        data: { status: 'CONSUMED', consumedAt: now, resultEncrypted: null },
      });
      return count === 1;
    },

    /** Deletes intents that expired before `before`; returns how many. */
    async deleteIntentsExpiredBefore(before: Date): Promise<number> {
      const { count } = await db.idpIntent.deleteMany({ where: { expiresAt: { lt: before } } });
      return count;
    },

    // Links.

    /** Inserts a link; a (provider, subject) linked before fails with a unique violation (P2002). */
    insertLink(tx: Tx, row: LinkProfileColumns & { userId: string; idpId: string; subject: string; tokensEncrypted?: (linkId: string) => string | null; now: Date }): Promise<IdpLink> {
      const id = newId('IdpLink');
      const { now, tokensEncrypted, profile, ...columns } = row;
      return tx.idpLink.create({
        data: { id, ...columns, profile: json(profile), tokensEncrypted: tokensEncrypted?.(id) ?? null, lastUsedAt: null, createdAt: now, updatedAt: now },
      });
    },

    findLink(reader: Reader, idpId: string, subject: string): Promise<IdpLink | null> {
      return reader.idpLink.findUnique({ where: { idpId_subject: { idpId, subject } } });
    },

    findLinkById(reader: Reader, id: string): Promise<IdpLink | null> {
      return reader.idpLink.findUnique({ where: { id } });
    },

    /** Writes a sign-in with the link: the provider's latest profile, and its tokens when kept. */
    touchLink(tx: Tx, id: string, row: LinkProfileColumns & { tokensEncrypted?: string; now: Date }): Promise<IdpLink> {
      const { now, profile, ...columns } = row;
      return tx.idpLink.update({ where: { id }, data: { ...columns, profile: json(profile), lastUsedAt: now, updatedAt: now } });
    },

    /** Replaces a link's tokens if they are still `previous` (two refreshes racing keep one answer). */
    async replaceLinkTokens(id: string, previous: string, next: string, now: Date): Promise<boolean> {
      const { count } = await db.idpLink.updateMany({ where: { id, tokensEncrypted: previous }, data: { tokensEncrypted: next, updatedAt: now } });
      return count === 1;
    },

    async deleteLink(tx: Tx, id: string): Promise<boolean> {
      const { count } = await tx.idpLink.deleteMany({ where: { id } });
      return count === 1;
    },

    // Users, as this module reads them.

    /**
     * Locks a user's row for the rest of the transaction (PostgreSQL: FOR
     * UPDATE; SQLite runs one transaction at a time), so "is this the last
     * way to sign in?" is decided on a stable set. Null when there is no user.
     */
    async lockUser(tx: Tx, userId: string): Promise<{ id: string } | null> {
      const rows =
        deps.provider === 'postgresql'
          ? await tx.$queryRaw<Array<{ id: string }>>(Prisma.sql`SELECT "id" FROM "User" WHERE "id" = ${userId} FOR UPDATE`)
          : await tx.$queryRaw<Array<{ id: string }>>(Prisma.sql`SELECT "id" FROM "User" WHERE "id" = ${userId}`);
      return rows[0] ?? null;
    },

    /** The ways a user signs in without this link: a password, a passkey, other links. */
    async countOtherSignInMethods(tx: Tx, userId: string, exceptLinkId: string): Promise<number> {
      const [methods, links] = await Promise.all([
        tx.authMethod.count({ where: { userId, OR: [{ kind: 'PASSWORD' }, { kind: 'PASSKEY', verified: true }] } }),
        tx.idpLink.count({ where: { userId, id: { not: exceptLinkId } } }),
      ]);
      return methods + links;
    },

    findUser(reader: Reader, id: string) {
      return reader.user.findUnique({ where: { id }, select: { id: true, emailNormalized: true, emailVerifiedAt: true } });
    },

    findUserByEmail(emailNormalized: string) {
      return db.user.findUnique({ where: { emailNormalized }, select: { id: true, emailVerifiedAt: true } });
    },
  };
}
