/**
 * Shared shapes of mutations: every mutation takes one `input:` of its own
 * `<Name>Input` type and returns `<Name>Result` = `<Name>Success | errors…`.
 */
import type { User } from '../db/generated/sqlite/client.js';
import { builder } from './builder.js';

/** A success type exposing the affected user under `user`, re-read with the caller's selection. */
export function userSuccess(name: string, description: string) {
  return builder.objectRef<{ userId: string }>(name).implement({
    description,
    fields: (t) => ({
      user: t.prismaField({
        type: 'User',
        resolve: (query, parent, _args, ctx) => ctx.db.user.findUniqueOrThrow({ ...query, where: { id: parent.userId } }),
      }),
    }),
  });
}

export const toUserResult = (user: Pick<User, 'id'>) => ({ userId: user.id });
