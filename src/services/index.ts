/**
 * The composition root: builds every service with its explicit dependencies.
 * The CLI, the GraphQL schema and the tests all get their services from here.
 */
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { createOutbox } from '../events/outbox.js';
import type { Logger } from '../logger.js';
import { createApiKeyService } from './api-keys.js';
import { systemClock, type Clock } from './clock.js';
import { createUserService } from './users.js';

export interface ServiceDeps {
  db: Db;
  config: Readonly<Config>;
  logger: Logger;
  clock?: Clock;
  /** Called after a transaction that recorded events commits (wakes the relay). */
  onEventsCommitted?: () => void;
}

export type Services = ReturnType<typeof createServices>;

export function createServices(deps: ServiceDeps) {
  const clock = deps.clock ?? systemClock;
  const outbox = createOutbox({ now: () => clock.now(), onCommitted: deps.onEventsCommitted });
  return {
    clock,
    outbox,
    users: createUserService({ db: deps.db, provider: deps.config.database.provider, outbox, clock }),
    apiKeys: createApiKeyService({ db: deps.db, clock, bootstrapApiKey: deps.config.bootstrapApiKey }),
  };
}
