/**
 * Errors that tell a client what to fix: a page larger than the largest one
 * is refused with the limit (never cut silently), and field suggestions
 * ("Did you mean …?") help outside production and are withheld in it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_KEY, createTestApp, type TestApp } from './helpers/app.js';

const opened: TestApp[] = [];
afterAll(async () => {
  for (const t of opened) await t.close();
});
async function post(t: TestApp, query: string) {
  const res = await t.app.yoga.fetch('http://gateway.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${BOOTSTRAP_KEY}` },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  opened.push(t);
});

describe('page size', () => {
  it('answers 500 and refuses 501 with the limit', async () => {
    expect((await post(t, '{ users(first: 500) { totalCount } }')).errors).toBeUndefined();
    const refused = await post(t, '{ users(first: 501) { totalCount } }');
    expect(refused.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first', max: 500 });
    expect(refused.errors?.[0].message).toContain('at most 500');
    expect((await post(t, '{ events(last: 501) { edges { node { id } } } }')).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'last' });
  });
});

describe('field suggestions', () => {
  it('suggests a field outside production, and not in production', async () => {
    expect((await post(t, '{ user(id: "usr_x") { emial } }')).errors?.[0].message).toMatch(/Did you mean "email"/);
    const production = await createTestApp({ env: { NODE_ENV: 'production', PORTCULLIS_ALLOW_CONSOLE_DELIVERY: 'true' } });
    opened.push(production);
    const answer = await post(production, '{ user(id: "usr_x") { emial } }');
    expect(answer.errors?.[0].message).toContain('Cannot query field "emial"');
    expect(answer.errors?.[0].message).not.toMatch(/Did you mean/);
  });
});
