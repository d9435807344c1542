/**
 * Threat: someone who is not a management caller follows an organization's
 * events (its members, invitations with email addresses, roles). A signed-in
 * user's access token, even a member's, is refused with FORBIDDEN
 * (API_KEY_REQUIRED) over WebSocket and SSE, before anything subscribes; an
 * anonymous socket is closed with 4403; a stream opened with an API key ends
 * once the key is revoked.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { organizationTopic } from '../src/kernel/events/pubsub.js';
import { newId } from '../src/kernel/ids.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { collect, wsClient } from './e2e/event-clients.js';

const ORGANIZATION_EVENTS = `subscription($organizationId: ID!, $after: ID) {
  organizationEvents(organizationId: $organizationId, after: $after) { id type organizationId data }
}`;
/** Far below any test timeout, far above the 1 s re-check interval. */
const ENDS_WITHIN = { timeout: 10_000, interval: 50 };

let t: TestApp;
let url: string;
beforeAll(async () => {
  t = await createTestApp({ env: { PORTCULLIS_RELAY_POLL_MS: '50', PORTCULLIS_SUBSCRIPTION_REAUTH_SECONDS: '1' } });
  ({ url } = await t.app.start());
});
afterAll(() => t?.close());

const listeners = (organizationId: string) => t.app.events.pubsub.listenerCount(organizationTopic(organizationId));
const closeCode = (ended: unknown) => (ended as { code?: number } | undefined)?.code;

/** An organization with a member, recorded as the organizations service records them. */
async function organizationWithMember() {
  const { outbox } = t.app.services;
  const user = await t.app.services.users.createUser({ email: `member-${Date.now()}-${Math.random()}@example.com` }, systemMeta);
  const organization = { id: newId('Organization'), name: 'Acme', slug: `acme-${Date.now()}` };
  const membership = { id: newId('Membership'), userId: user.id, roles: ['member'] };
  await outbox.transaction(async (tx) => {
    await outbox.record(tx, { type: 'organization.created', organizationId: organization.id, data: { organization } }, systemMeta);
    await outbox.record(tx, { type: 'organization.member_added', organizationId: organization.id, userId: user.id, data: { organization, membership, via: 'admin' } }, systemMeta);
  });
  return { organization, userId: user.id };
}

describe('a signed-in user', () => {
  it("is refused an organization's stream, even as its member, over WebSocket and SSE, and nothing subscribes", async () => {
    const { organization, userId } = await organizationWithMember();
    const { accessToken } = await t.app.services.sessions.createSession(userId, {}, systemMeta);
    const ws = wsClient(url, accessToken);
    const overWs = collect(ws, ORGANIZATION_EVENTS, { organizationId: organization.id });
    await overWs.done;
    expect(overWs.items).toHaveLength(1);
    expect(overWs.items[0].data ?? null).toBeNull();
    expect(overWs.items[0].errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'API_KEY_REQUIRED' });
    expect(overWs.ended).toBe('complete');
    await ws.dispose();

    // SSE, with a cursor too: the replay must not run before the check.
    const first = await t.app.database.client.event.findFirstOrThrow({ where: { organizationId: organization.id }, orderBy: { seq: 'asc' } });
    const response = await fetch(url, {
      method: 'POST',
      headers: { accept: 'text/event-stream', 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ query: ORGANIZATION_EVENTS, variables: { organizationId: organization.id, after: first.id } }),
    });
    const body = await response.text();
    expect(response.status).toBe(403);
    expect(body).toContain('API_KEY_REQUIRED');
    // The member_added event after the cursor is not in it.
    expect(body).not.toContain('ORGANIZATION_MEMBER_ADDED');
    expect(listeners(organization.id)).toBe(0);
  });
});

describe('an anonymous socket', () => {
  it('is closed with 4403', async () => {
    const anonymous = wsClient(url, null);
    const stream = collect(anonymous, ORGANIZATION_EVENTS, { organizationId: newId('Organization') });
    await stream.done;
    expect(closeCode(stream.ended)).toBe(4403);
    expect(stream.items).toHaveLength(0);
    await anonymous.dispose();
  });
});

describe('a stream opened with an API key', () => {
  it('ends once the key is revoked, and stops listening', async () => {
    const { organization } = await organizationWithMember();
    const { id: keyId, key } = await t.app.services.apiKeys.createApiKey({ name: 'org listener', scopes: ['*'] }, systemMeta);
    const ws = wsClient(url, key);
    const created = await t.app.database.client.event.findFirstOrThrow({ where: { organizationId: organization.id }, orderBy: { seq: 'asc' } });
    const stream = collect(ws, ORGANIZATION_EVENTS, { organizationId: organization.id, after: created.id });
    // The member_added event, replayed: the stream is open and authorized.
    await stream.waitFor(1);
    await vi.waitFor(() => expect(listeners(organization.id)).toBe(1), ENDS_WITHIN);

    await t.app.services.apiKeys.revokeApiKey(keyId, systemMeta);
    await vi.waitFor(() => expect(closeCode(stream.ended)).toBe(4403), ENDS_WITHIN);
    await vi.waitFor(() => expect(listeners(organization.id)).toBe(0), ENDS_WITHIN);
    expect(stream.items.map((i) => i.data?.organizationEvents?.type)).toEqual(['ORGANIZATION_MEMBER_ADDED']);
    await ws.dispose();
  });
});
