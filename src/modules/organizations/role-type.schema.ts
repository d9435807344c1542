/**
 * The Role object type, as members, invitations and domains show it. The
 * roles module defines Role too (with its permissions): one of the two stays
 * when both are merged.
 */
import { builder } from '../../graphql/builder.js';

export const RoleRef = builder.prismaObject('Role', {
  description: 'A named set of permissions. GLOBAL roles are given to users, ORGANIZATION roles to members of an organization.',
  fields: (t) => ({
    id: t.exposeID('id'),
    key: t.exposeString('key', { description: 'Unique within its scope, e.g. admin.' }),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    scope: t.exposeString('scope', { description: 'GLOBAL or ORGANIZATION.' }),
    isDefault: t.exposeBoolean('isDefault', { description: 'Given to every new user (GLOBAL) or new member (ORGANIZATION) that names no roles.' }),
  }),
});

/**
 * The roles named by a JSON list of ids (invitations, domains), those deleted
 * since left out. One findUnique per id: Prisma batches the findUniques of a
 * tick into one query, so a list of invitations costs one role query.
 */
export async function rolesByIds(ctx: { db: import('../../kernel/db/client.js').Db }, ids: unknown) {
  const list = Array.isArray(ids) ? ids.map(String) : [];
  const roles = await Promise.all(list.map((id) => ctx.db.role.findUnique({ where: { id } })));
  return roles.filter((r) => r !== null && r.scope === 'ORGANIZATION').sort((a, b) => a!.key.localeCompare(b!.key)) as NonNullable<(typeof roles)[number]>[];
}
