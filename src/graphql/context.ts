import type { Db } from '../kernel/db/client.js';
import type { RequestMeta } from '../kernel/events/outbox.js';
import type { Services } from '../modules/index.js';

/** Who is calling. Management callers hold an API key; end users an access token. */
export type Viewer =
  | { kind: 'anonymous' }
  | { kind: 'api_key'; keyId: string }
  | { kind: 'bootstrap_key' }
  | { kind: 'user'; userId: string; sessionId: string };

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

export function isAdmin(viewer: Viewer): boolean {
  return viewer.kind === 'api_key' || viewer.kind === 'bootstrap_key';
}
