/**
 * What a module contributes besides its services: its event types, its
 * GraphQL schema, the background work it needs, the pages it serves. The
 * ordered list in modules/index.ts is read by the catalog, the schema and
 * app.ts, so adding a capability is one folder and one line there.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import type { Db } from '../kernel/db/client.js';
import type { EventSchemas } from '../kernel/events/define.js';
import type { RelayedEvent } from '../kernel/events/pubsub.js';
import type { Logger } from '../kernel/logger.js';
import type { Metrics } from '../kernel/metrics.js';
import type { Services } from './services.js';

/** A loop a module runs between start and stop (the webhook dispatcher). */
export interface Worker {
  start(): void | Promise<void>;
  stop(): Promise<void>;
  /** Work just arrived: look now rather than at the next poll. */
  wake?(): void;
}

export interface WorkerContext {
  services: Services;
  db: Db;
  config: Readonly<Config>;
  logger: Logger;
  /** Where a worker counts what it does (createApp's registry). */
  metrics?: Metrics;
  /** Test hooks passed to createApp (a webhook sender that fails on demand, a DNS lookup). */
  hooks: Record<string, unknown>;
}

/** What a module's pages are built with. */
export interface PageContext {
  config: Readonly<Config>;
  services: Services;
  logger: Logger;
}

/** The request's id (its x-request-id and access-log line) and client address, as the server knows them. */
export interface PageRequest {
  id: string;
  ip?: string;
}

/** Answers (and returns true for) the paths it serves; leaves any other request to the caller. */
export type PageHandler = (req: IncomingMessage, res: ServerResponse, request: PageRequest) => boolean;

export interface ModuleManifest {
  name: string;
  /** Its event types and their payloads (events.ts). */
  events?: EventSchemas;
  /** Registers its GraphQL types and fields on the builder (its schema files, imported for their effect). */
  schema?: () => Promise<unknown>;
  /** Its background loops. */
  workers?: (context: WorkerContext) => Worker[];
  /** Housekeeping one instance does on its relay ticks (the lease holder), e.g. ending expired locks. */
  leaderChore?: (services: Services) => Promise<unknown>;
  /** Consumes committed events in order, once across instances (idempotently: a lease hand-over may repeat some). */
  fanOut?: (services: Services, events: RelayedEvent[], restarted: boolean) => Promise<unknown>;
  /** Extra HTTP pages: answers and returns true for the paths it serves. */
  pages?: (context: PageContext) => PageHandler | undefined;
}

export const defineModule = (manifest: ModuleManifest): ModuleManifest => manifest;
