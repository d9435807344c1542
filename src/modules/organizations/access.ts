/**
 * Checks and token claims. `can` and `effectivePermissions` are shaped like
 * a relationship check (subject, permission, object) so a relationship
 * engine could answer them later without a schema change; here they are one
 * join over roles. Outside an organization a user has the permissions of its
 * GLOBAL roles; inside one, those of its membership's ORGANIZATION roles only
 * (a global role grants nothing inside an organization, and the reverse).
 *
 * A request batches its checks: every `can` asked while one GraphQL
 * operation resolves (a list of members, each with `permissions`) goes to
 * the database as one query per organization.
 */
import DataLoader from 'dataloader';
import type { DirectSql } from '../../kernel/db/direct.js';
import { createAccessStore } from './access.store.js';

export interface AccessCheck {
  userId: string;
  permission: string;
  /** The object: an organization, or none for the user's global permissions. */
  organizationId?: string | null;
}

export interface ClaimsPolicy {
  /** Global role keys as `roles`. */
  roles: boolean;
  /** Hasura's claims block. */
  hasuraClaims: boolean;
  hasuraDefaultRole: string;
}

export const HASURA_CLAIMS = 'https://hasura.io/jwt/claims';

export type AccessService = ReturnType<typeof createAccessService>;
/** Per-request batching of permission reads. */
export type PermissionLoader = DataLoader<string, ReadonlySet<string>>;

const keyOf = (userId: string, organizationId?: string | null) => `${organizationId ?? ''}\u0000${userId}`;

export function createAccessService(deps: { direct: DirectSql; policy: ClaimsPolicy }) {
  const store = createAccessStore(deps.direct);
  const { policy } = deps;

  /** One query per organization (and one for the global scope) for a batch of (user, organization) pairs. */
  async function loadMany(keys: readonly string[]): Promise<ReadonlySet<string>[]> {
    const byScope = new Map<string, Set<string>>();
    for (const key of keys) {
      const [scope, userId] = key.split('\u0000');
      let users = byScope.get(scope);
      if (!users) byScope.set(scope, (users = new Set()));
      users.add(userId);
    }
    const found = new Map<string, Set<string>>(keys.map((k) => [k, new Set<string>()]));
    await Promise.all(
      [...byScope].map(async ([scope, users]) => {
        const ids = [...users];
        const rows = scope ? await store.organizationPermissions(scope, ids) : await store.globalPermissions(ids);
        for (const row of rows) found.get(keyOf(row.userId, scope))?.add(row.key);
      }),
    );
    return keys.map((k) => found.get(k)!);
  }

  const newLoader = (): PermissionLoader => new DataLoader(loadMany, { maxBatchSize: 500 });

  async function effectivePermissions(userId: string, organizationId?: string | null, loader?: PermissionLoader): Promise<string[]> {
    const set = loader ? await loader.load(keyOf(userId, organizationId)) : (await loadMany([keyOf(userId, organizationId)]))[0];
    return [...set].sort();
  }

  return {
    /** A loader for one request: checks asked together become one query per organization. */
    newLoader,

    effectivePermissions,

    /** Whether the user holds the permission, globally or in the organization. */
    async can(check: AccessCheck, loader?: PermissionLoader): Promise<boolean> {
      const key = keyOf(check.userId, check.organizationId);
      const set = loader ? await loader.load(key) : (await loadMany([key]))[0];
      return set.has(check.permission);
    },

    /**
     * The claims an access token carries besides the standard ones: the
     * organization it speaks for (org_id, org_slug, org_roles, permissions),
     * the global `roles` and Hasura's block when configured. Null when an
     * organization is named and the user is not one of its members.
     */
    async tokenClaims(userId: string, organizationId: string | null): Promise<Record<string, unknown> | null> {
      const claims: Record<string, unknown> = {};
      let orgRoles: string[] = [];
      if (organizationId) {
        const rows = await store.membershipRoles(userId, organizationId);
        if (rows.length === 0) return null;
        orgRoles = rows.flatMap((r) => (r.roleKey ? [r.roleKey] : []));
        claims.org_id = organizationId;
        claims.org_slug = rows[0].slug;
        claims.org_roles = orgRoles;
        claims.permissions = await effectivePermissions(userId, organizationId);
      }
      const globalRoles = policy.roles || policy.hasuraClaims ? await store.globalRoleKeys(userId) : [];
      if (policy.roles) claims.roles = globalRoles;
      if (policy.hasuraClaims) {
        const allowed = [...new Set([policy.hasuraDefaultRole, ...globalRoles, ...orgRoles])];
        claims[HASURA_CLAIMS] = {
          'x-hasura-user-id': userId,
          'x-hasura-default-role': policy.hasuraDefaultRole,
          'x-hasura-allowed-roles': allowed,
          ...(organizationId ? { 'x-hasura-org-id': organizationId } : {}),
        };
      }
      return claims;
    },
  };
}
