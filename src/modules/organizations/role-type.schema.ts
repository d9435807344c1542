/** Role lists of invitations and domains, shown with the roles module's Role type. */
import { RoleRef } from './roles.schema.js';

export { RoleRef };

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
