import type { Db } from '../kernel/db/client.js';
import type { RequestMeta } from '../kernel/events/outbox.js';
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
