/**
 * The event catalog is published two ways and both follow the code: the table
 * in docs/events.md (made by `npm run events:doc`), and one JSON Schema per
 * type at GET /events/schema.json, against which real events — recorded by
 * real operations and read back from the log — validate with an independent
 * validator (Ajv).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventTypes } from '../src/modules/catalog.js';
import { CATALOG_BEGIN, CATALOG_END, eventCatalogMarkdown } from '../src/modules/events/catalog-doc.js';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { createTestApp, type TestApp } from './helpers/app.js';

let t: TestApp;
let origin: string;
beforeAll(async () => {
  t = await createTestApp();
  origin = new URL((await t.app.start()).url).origin;
});
afterAll(() => t?.close());

describe('the event catalog', () => {
  it('is in docs/events.md exactly as the code declares it (npm run events:doc)', () => {
    const doc = readFileSync(path.resolve(import.meta.dirname, '..', 'docs', 'events.md'), 'utf8');
    const published = doc.slice(doc.indexOf(CATALOG_BEGIN), doc.indexOf(CATALOG_END) + CATALOG_END.length);
    expect(published).toBe(eventCatalogMarkdown());
    for (const type of eventTypes) expect(published).toContain(`\`${type}\``);
  });

  it('serves a JSON Schema per type that real events validate against, and that refuses a wrong shape', async () => {
    const res = await fetch(`${origin}/events/schema.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/schema+json');
    const catalog = (await res.json()) as { events: Record<string, object> };
    expect(Object.keys(catalog.events).sort()).toEqual([...eventTypes].sort());

    const ajv = new Ajv2020({ strict: false });
    // Real operations, each recording events of its own.
    const s = t.app.services;
    const user = await s.users.createUser({ email: 'catalog@example.com', givenName: 'Cat' }, systemMeta);
    await s.users.updateUser(user.id, { displayName: 'Catalog' }, systemMeta);
    await s.passwords.setPassword(user.id, { password: 'a long enough password' }, systemMeta);
    await s.passwords.verifyPassword(user.id, 'not the password', systemMeta).catch(() => undefined);
    await s.users.lockUser(user.id, systemMeta);
    await s.users.deleteUser(user.id, systemMeta);
    const rows = await t.app.database.client.event.findMany({ where: { userId: user.id }, orderBy: { seq: 'asc' } });
    expect(rows.map((r) => r.type)).toEqual([
      'user.created',
      'user.updated',
      'user.password_changed',
      'user.password_verification_failed',
      'user.locked',
      'user.deleted',
    ]);
    for (const row of rows) {
      const validate = ajv.compile(catalog.events[row.type]);
      expect(validate(row.data), `${row.type}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
    // And the schemas are not vacuous: a payload of another shape is refused.
    expect(ajv.compile(catalog.events['user.locked'])({ user: { id: 1 } })).toBe(false);
    expect(ajv.compile(catalog.events['user.otp_sms_removed'])({ authMethodId: 'am_x', kind: 'TOTP' })).toBe(false);
  });
});
