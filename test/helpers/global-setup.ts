/** Migrates one template database per run; each test file clones it (fast and isolated). */
import { mkdirSync, rmSync } from 'node:fs';
import { migrate } from '../../src/kernel/db/migrator.js';
import { adminQuery, postgresTemplate, postgresUrl, runDir, sqliteTemplate, testProvider } from './db.js';

export default async function setup() {
  const dir = runDir;
  const template = sqliteTemplate;
  const pgTemplate = postgresTemplate;
  if (testProvider === 'sqlite') {
    mkdirSync(dir, { recursive: true });
    rmSync(template, { force: true });
    await migrate('sqlite', `file:${template}`);
    return () => rmSync(dir, { recursive: true, force: true });
  }
  await adminQuery(`DROP DATABASE IF EXISTS ${pgTemplate} WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE ${pgTemplate}`);
  await migrate('postgresql', postgresUrl(pgTemplate));
  return async () => {
    await adminQuery(`DROP DATABASE IF EXISTS ${pgTemplate} WITH (FORCE)`);
    rmSync(dir, { recursive: true, force: true });
  };
}
