import { builder } from '../../graphql/builder.js';
import { adminOrThisUser, affectedUser } from '../../graphql/helpers.js';
import { errorTypes as E } from '../../graphql/errors.js';
import { METADATA_MAX_BYTES, METADATA_MAX_DEPTH, TOKEN_METADATA_MAX_BYTES } from '../../kernel/metadata.js';
import { UserRef } from './schema.js';
import type { UserMetadataPart } from './metadata.service.js';

export const LIMITS = `Each part is a JSON object nested at most ${METADATA_MAX_DEPTH} levels (the object itself is level 1); the parts of one owner together are at most ${METADATA_MAX_BYTES} bytes once serialized as JSON.`;

export const MetadataModeEnum = builder.enumType('MetadataMode', {
  description: 'How a metadata change applies to the stored object.',
  values: {
    MERGE: {
      description: 'A JSON merge patch (RFC 7396): keys given are set, a key given as null is deleted, nested objects merge key by key, arrays and other values replace. Keys left out stay.',
    },
    REPLACE: { description: 'The object given replaces the stored one whole.' },
  } as const,
});

export const MetadataPartEnum = builder.enumType('MetadataPart', {
  description: 'A part of the metadata of a user or an organization.',
  values: {
    PUBLIC: { value: 'public', description: 'publicMetadata' },
    PRIVATE: { value: 'private', description: 'privateMetadata' },
    UNSAFE: { value: 'unsafe', description: 'unsafeMetadata (users only)' },
  } as const,
});

// API keys holding users:read, or the user itself (a personal access token with users:read).
const self = adminOrThisUser('users:read');
const orEmpty = (value: unknown) => value ?? {};

builder.prismaObjectFields(UserRef, (t) => ({
  publicMetadata: t.field({
    type: 'JSON',
    select: { publicMetadata: true },
    authScopes: self,
    description: `A JSON object API keys write and the user reads (with its own access token); {} until written. Keys named by PORTCULLIS_TOKEN_METADATA_KEYS are copied into access tokens. ${LIMITS}`,
    resolve: (user) => orEmpty(user.publicMetadata),
  }),
  privateMetadata: t.field({
    type: 'JSON',
    select: { privateMetadata: true },
    authScopes: { admin: 'users:read' },
    description: 'A JSON object for API keys only: the user never reads it; {} until written.',
    resolve: (user) => orEmpty(user.privateMetadata),
  }),
  unsafeMetadata: t.field({
    type: 'JSON',
    select: { unsafeMetadata: true },
    authScopes: self,
    description: 'A JSON object the user reads and writes itself (updateUserMetadata with its access token), so nothing may trust it for access decisions; {} until written.',
    resolve: (user) => orEmpty(user.unsafeMetadata),
  }),
}));

const UpdateUserMetadataInput = builder.inputType('UpdateUserMetadataInput', {
  description: 'Parts left out (or null) stay as they are.',
  fields: (t) => ({
    userId: t.id({ required: true }),
    public: t.field({ type: 'JSON', description: 'Changes publicMetadata: API keys only.' }),
    private: t.field({ type: 'JSON', description: 'Changes privateMetadata: API keys only.' }),
    unsafe: t.field({ type: 'JSON', description: 'Changes unsafeMetadata: API keys, or the user with its own access token.' }),
    mode: t.field({ type: MetadataModeEnum, defaultValue: 'MERGE' }),
  }),
});

builder.mutationFields((t) => ({
  updateUserMetadata: t.field({
    type: builder.objectRef<{ userId: string; changed: UserMetadataPart[] }>('UpdateUserMetadataSuccess').implement({
      description: 'The metadata is as asked.',
      fields: (f) => ({
        user: affectedUser(f),
        changed: f.field({ type: [MetadataPartEnum], description: 'The parts whose value changed (empty: the change changed nothing, and nothing was recorded).', resolve: (p) => p.changed }),
      }),
    }),
    // A user acting on itself writes unsafe only: public and private (given, not null) need an API key (FORBIDDEN, API_KEY_REQUIRED).
    authScopes: (_root, args) =>
      args.input.public != null || args.input.private != null
        ? { admin: 'users:write' as const }
        : { admin: 'users:write' as const, self: { userId: String(args.input.userId), scope: 'users:write' as const } },
    description:
      'Changes a user\'s metadata: each part given is merged (MERGE, the default: RFC 7396 JSON merge patch, null deletes a key) or replaced (REPLACE). ' +
      'API keys write every part; a user with its own access token writes `unsafe` only (public or private: FORBIDDEN with reason API_KEY_REQUIRED). ' +
      `${LIMITS} A part that is not an object, nests too deep, or makes the whole too large is InvalidInputError naming it (public, private or unsafe). ` +
      `The keys copied into access tokens (PORTCULLIS_TOKEN_METADATA_KEYS) are at most ${TOKEN_METADATA_MAX_BYTES} bytes together. ` +
      'Concurrent merges all land. Records user.metadata_updated with the parts and (public and unsafe) top-level keys that changed, never values.',
    errors: { types: [E.UserNotFoundError, E.InvalidInputError] },
    args: { input: t.arg({ type: UpdateUserMetadataInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.userMetadata.updateUserMetadata({ ...input, userId: String(input.userId) }, ctx.meta),
  }),
}));
