/**
 * The API-key service on its own, for the CLI's `api-key` commands: the
 * database, the outbox and this one service, without the schema, the server
 * and the other modules, whose loading was most of each command's time (a
 * command took 2.2 s with the whole app, 0.7 s with this). Its events reach
 * subscribers and webhooks as another instance's do: a running gateway's
 * relay finds them in the log.
 */
import type { Config } from '../../config.js';
import { systemClock } from '../../kernel/clock.js';
import { createDatabase } from '../../kernel/db/client.js';
import { createEventOutbox } from '../catalog.js';
import { createApiKeyService, type ApiKeyService } from './api-keys.js';

export async function openApiKeyService(config: Readonly<Config>): Promise<{ apiKeys: ApiKeyService; close(): Promise<void> }> {
  const { provider, url } = config.database;
  const database = await createDatabase(provider, url, { pool: config.database.pool });
  const { client: db, direct } = database;
  const outbox = createEventOutbox({ db, direct, env: config.env, now: () => systemClock.now() });
  return { apiKeys: createApiKeyService({ db, direct, clock: systemClock, outbox, bootstrapApiKey: config.bootstrapApiKey }), close: () => database.close() };
}
