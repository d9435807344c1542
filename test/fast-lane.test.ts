/**
 * The HTTP fast lane (src/server/fast-lane.ts) answers plain JSON POSTs
 * without yoga's fetch adapter. It must answer exactly as yoga does: each
 * request below is sent over HTTP to the started server and, the same bytes,
 * to yoga's own fetch handler; status, content type, the headers a client
 * reads, and the body must match. The lane's answer count shows which of
 * them it took (a parity test that never reached the lane would prove nothing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_KEY, createTestApp, type TestApp } from './helpers/app.js';

interface Probe {
  name: string;
  body: string;
  headers?: Record<string, string>;
  /** Whether the lane answers it itself (false: it hands the request to yoga). */
  lane: boolean;
}

const admin = { authorization: `Bearer ${BOOTSTRAP_KEY}` };
const json = (value: unknown) => JSON.stringify(value);

const probes: Probe[] = [
  { name: 'a query', body: json({ query: '{ __typename }' }), headers: admin, lane: true },
  { name: 'variables and an operation name', body: json({ query: 'query Q($id: ID!) { user(id: $id) { id } } query R { __typename }', variables: { id: 'usr_missing' }, operationName: 'Q' }), headers: admin, lane: true },
  { name: 'JSON answers for graphql-response+json', body: json({ query: '{ __typename }' }), headers: { ...admin, accept: 'application/graphql-response+json' }, lane: true },
  { name: 'an anonymous caller (401)', body: json({ query: '{ users(first: 1) { totalCount } }' }), lane: false },
  { name: 'a made-up token (401 with its reason)', body: json({ query: '{ __typename users(first: 1) { totalCount } }' }), headers: { authorization: 'Bearer not-a-key' }, lane: false },
  { name: 'a validation error', body: json({ query: '{ nope }' }), headers: admin, lane: false },
  { name: 'a validation error, graphql-response+json', body: json({ query: '{ nope }' }), headers: { ...admin, accept: 'application/graphql-response+json' }, lane: false },
  { name: 'a syntax error', body: json({ query: '{ users(' }), headers: admin, lane: false },
  { name: 'a query over the depth limit', body: json({ query: `{ users(first: 1) ${'{ edges { node { memberships { organization { members(first: 1) '.repeat(3)}{ edges { node { id } } }${' } } } } }'.repeat(3)} }` }), headers: admin, lane: false },
  { name: 'variables of the wrong type', body: json({ query: 'query($n: Int) { users(first: $n) { totalCount } }', variables: { n: 'ten' } }), headers: admin, lane: false },
  { name: 'an operation name that is not in the document', body: json({ query: 'query A { __typename }', operationName: 'B' }), headers: admin, lane: false },
  { name: 'a mutation answering a typed error (data, 200)', body: json({ query: 'mutation($i: VerifyPasswordInput!) { verifyPassword(input: $i) { __typename } }', variables: { i: { userId: 'usr_missing', password: 'x' } } }), headers: admin, lane: true },
  { name: 'a subscription asked for as one JSON answer (406)', body: json({ query: 'subscription { userEvents(userId: "usr_missing") { id } }' }), headers: { ...admin, accept: 'application/json' }, lane: false },
  { name: 'an accept header nothing matches (406)', body: json({ query: '{ __typename }' }), headers: { ...admin, accept: 'application/xml' }, lane: false },
  // Handed to yoga with the body already read:
  { name: 'invalid JSON', body: '{"query": ', headers: admin, lane: false },
  { name: 'a batch', body: json([{ query: '{ __typename }' }]), headers: admin, lane: false },
  { name: 'a parameter GraphQL does not know', body: json({ query: '{ __typename }', extra: 1 }), headers: admin, lane: false },
  { name: 'no query', body: json({ variables: {} }), headers: admin, lane: false },
  { name: 'a query that is not a string', body: json({ query: 42 }), headers: admin, lane: false },
  { name: 'variables that are not an object', body: json({ query: '{ __typename }', variables: [1] }), headers: admin, lane: false },
];

/** What a client sees of an answer; the per-request id and date differ by nature. */
async function seen(response: Response) {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: compared as text
  }
  const h = response.headers;
  return {
    status: response.status,
    headers: { 'content-type': h.get('content-type'), 'www-authenticate': h.get('www-authenticate'), 'retry-after': h.get('retry-after'), accept: h.get('accept'), vary: h.get('vary'), 'access-control-allow-origin': h.get('access-control-allow-origin') },
    body,
  };
}

function parity(env: Record<string, string>, list: Probe[]) {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp({ env });
    url = (await t.app.start()).url;
  });
  afterAll(() => t.close());

  it.each(list)('answers $name as yoga does', async (probe) => {
    const init = () => ({ method: 'POST', headers: { 'content-type': 'application/json', ...probe.headers }, body: probe.body });
    const before = t.app.fastLaneAnswers();
    const overHttp = await seen(await fetch(url, init()));
    const taken = t.app.fastLaneAnswers() - before;
    const byYoga = await seen(await t.app.yoga.fetch('http://gateway.test/graphql', init()));
    expect(overHttp).toEqual(byYoga);
    expect(taken).toBe(probe.lane ? 1 : 0);
  });
}

describe('the HTTP fast lane answers as yoga does', () => {
  parity({}, probes);
});

describe('the HTTP fast lane with CORS origins configured', () => {
  parity({ PORTCULLIS_CORS_ORIGINS: 'https://app.example' }, [
    probes[0],
    probes[3],
    // A browser on another origin is answered by yoga (CORS headers), allowed or not.
    { name: 'an allowed origin', body: json({ query: '{ __typename }' }), headers: { ...admin, origin: 'https://app.example' }, lane: false },
    { name: 'an origin not allowed', body: json({ query: '{ __typename }' }), headers: { ...admin, origin: 'https://evil.example' }, lane: false },
  ]);
});
