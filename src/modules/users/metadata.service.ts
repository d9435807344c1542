/**
 * User metadata, in three parts with their own readers and writers (Clerk's
 * split): publicMetadata (API keys write it; the user reads it),
 * privateMetadata (API keys only) and unsafeMetadata (the user reads and
 * writes it with its own access token, so nothing may trust it). The rules
 * of their shape and size are kernel/metadata.ts, shared with organizations.
 *
 * A change is a read-modify-write of the user's row inside one transaction
 * that holds the row (the store's lockUserMetadata), so two concurrent
 * merges both land.
 */
import type { DatabaseProvider } from '../../config.js';
import type { Db, Tx } from '../../kernel/db/client.js';
import type { RequestMeta } from '../../kernel/events/outbox.js';
import type { Clock } from '../../kernel/clock.js';
import { assertThat, InvalidInputError, UserNotFoundError } from '../../kernel/errors.js';
import { applyMetadataChange, changedKeys, pickKeys, storedMetadata, type JsonObject, type MetadataMode } from '../../kernel/metadata.js';
import type { Outbox } from '../catalog.js';
import { publicUser } from './events.js';
import { createUserMetadataStore, type MetadataColumns } from './store.js';

export type UserMetadataPart = 'public' | 'private' | 'unsafe';
const PARTS: readonly UserMetadataPart[] = ['public', 'private', 'unsafe'];
const COLUMN = { public: 'publicMetadata', private: 'privateMetadata', unsafe: 'unsafeMetadata' } as const satisfies Record<UserMetadataPart, keyof MetadataColumns>;

/** The claim of access tokens that holds the copied public keys (PORTCULLIS_TOKEN_METADATA_KEYS). */
export const METADATA_CLAIM = 'public_metadata';

/** Parts to change: absent or null leaves a part as it is. */
export type MetadataChanges = Partial<Record<UserMetadataPart, unknown>>;

export interface UpdateUserMetadataInput extends MetadataChanges {
  userId: string;
  /** Default MERGE (RFC 7396). */
  mode?: MetadataMode | null;
}

export type UserMetadataService = ReturnType<typeof createUserMetadataService>;

export function createUserMetadataService(deps: {
  db: Db;
  provider: DatabaseProvider;
  outbox: Outbox;
  clock: Clock;
  /** Top-level publicMetadata keys copied into access tokens (config.tokens.metadataKeys). */
  tokenKeys: readonly string[];
}) {
  const { outbox, clock, tokenKeys } = deps;
  const store = createUserMetadataStore(deps);

  /**
   * The columns a change writes and the parts it changed, from the stored
   * metadata (null: a user being created). `fields` names the input field of
   * each part in InvalidInputError. Throws InvalidInputError.
   */
  function plan(stored: MetadataColumns | null, changes: MetadataChanges, mode: MetadataMode, fields: Record<UserMetadataPart, string>) {
    const current = {
      public: storedMetadata(stored?.publicMetadata),
      private: storedMetadata(stored?.privateMetadata),
      unsafe: storedMetadata(stored?.unsafeMetadata),
    };
    const { next, changed } = applyMetadataChange<UserMetadataPart>({ current, changes, mode, fields, tokenKeys: tokenKeys.length ? { part: 'public', keys: tokenKeys } : undefined });
    const columns: Partial<Record<keyof MetadataColumns, JsonObject>> = {};
    for (const part of changed) columns[COLUMN[part]] = next[part];
    return { columns, changed, current, next };
  }

  return {
    plan,
    lockUserMetadata: store.lockUserMetadata,

    /**
     * Changes a user's metadata: each part given is merged (MERGE, the
     * default: RFC 7396, null deletes a key) or replaced (REPLACE). A user
     * acting on itself writes unsafe only. Records user.metadata_updated
     * when a part changed; a change that changes nothing writes nothing.
     * Throws UserNotFoundError, InvalidInputError (naming the part).
     */
    async updateUserMetadata(input: UpdateUserMetadataInput, meta: RequestMeta): Promise<{ userId: string; changed: UserMetadataPart[] }> {
      // The schema refuses this with FORBIDDEN already; said again here so a path that skips it stays safe.
      for (const part of ['public', 'private'] as const) {
        assertThat(meta.actor.type !== 'user' || input[part] == null, () => new InvalidInputError(part, `Only API keys write ${part} metadata; a user writes its unsafe metadata.`));
      }
      const mode = input.mode ?? 'MERGE';
      const changes: MetadataChanges = Object.fromEntries(PARTS.map((p) => [p, input[p]]));
      return outbox.transaction(async (tx: Tx) => {
        const stored = await store.lockUserMetadata(tx, input.userId);
        if (!stored) throw new UserNotFoundError(input.userId);
        const { columns, changed, current, next } = plan(stored, changes, mode, { public: 'public', private: 'private', unsafe: 'unsafe' });
        if (changed.length === 0) return { userId: input.userId, changed };
        const user = await store.writeUserMetadata(tx, input.userId, columns, clock.now());
        const keys = (part: 'public' | 'unsafe') => (changed.includes(part) ? changedKeys(current[part], next[part]) : []);
        await outbox.record(
          tx,
          { type: 'user.metadata_updated', userId: user.id, data: { user: publicUser(user), mode, changed, publicKeys: keys('public'), unsafeKeys: keys('unsafe') } },
          meta,
        );
        return { userId: input.userId, changed };
      });
    },

    /**
     * The access-token claims of metadata: `public_metadata` with the
     * configured keys the user has. Read at every sign-in and refresh, so a
     * change shows in the next access token. No keys configured: no claim
     * and no query.
     */
    async tokenClaims(userId: string): Promise<Record<string, unknown>> {
      if (tokenKeys.length === 0) return {};
      return { [METADATA_CLAIM]: pickKeys(storedMetadata(await store.findPublicMetadata(userId)), tokenKeys) };
    },
  };
}
