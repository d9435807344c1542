import type { Db } from '../kernel/db/client.js';
import type { RequestMeta } from '../kernel/events/outbox.js';
import type { NeededScope } from '../modules/access-tokens/scopes.js';
import type { Services } from '../modules/services.js';

import type { Viewer } from '../kernel/auth.js';

export { isAdmin, type Viewer } from '../kernel/auth.js';

export interface Context {
  services: Services;
  /** For plugin-prisma's read selections only; every write goes through a service. */
  db: Db;
  viewer: Viewer;
  meta: RequestMeta;
  requestId: string;
  /** How the operation arrived: 'ws' for graphql-ws (guarded per socket), 'http' otherwise (including SSE). */
  transport: 'http' | 'ws';
}

/** What the `permission` auth scope asks: a permission key, in an organization or globally; a personal access token must also hold `scope`. */
export interface PermissionNeed {
  key: string;
  organizationId?: string | null;
  scope: NeededScope;
}

/**
 * What the `self` auth scope asks: the caller is this user. A personal access
 * token must also hold `scope`; null: only an access token (a session) will
 * do, never a personal access token.
 */
export interface SelfNeed {
  userId: string;
  scope: NeededScope | null;
}

type PermissionLoader = ReturnType<Services['access']['newLoader']>;
const permissionLoaders = new WeakMap<Context, PermissionLoader>();

/** The request's permission loader: the checks one operation asks go to the database together. */
export function permissionLoader(ctx: Context): PermissionLoader {
  let loader = permissionLoaders.get(ctx);
  if (!loader) permissionLoaders.set(ctx, (loader = ctx.services.access.newLoader()));
  return loader;
}
