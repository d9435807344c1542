/**
 * Threats: /metrics answers without a key (on the public port unless
 * PORTCULLIS_METRICS_PORT moves it), so whoever reaches it must learn no
 * identifier and no secret from it: no email, user id, password, token, API
 * key, code, webhook secret or URL, and nothing a caller wrote (operation
 * names, unknown field names, variables). And an attacker who sends requests
 * with made-up operation and field names must not grow the number of series
 * without bound: every new label set costs memory in the gateway and in
 * Prometheus for as long as both run.
 */
import { randomBytes } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchema } from '../src/graphql/index.js';
import { graphql } from './gql/index.js';
import { BOOTSTRAP_KEY, createTestApp, type TestApp } from './helpers/app.js';
import { scrape, type Scrape } from './helpers/prometheus.js';
import { systemMeta } from '../src/kernel/events/outbox.js';

const CreateUser = graphql(`
  mutation MetricsSecCreateUser($email: String!, $username: String!, $password: String!) {
    createUser(input: { email: $email, username: $username, password: $password }) { __typename ... on CreateUserSuccess { user { id } } }
  }
`);
const Login = graphql(`
  mutation MetricsSecLogin($identifier: String!, $password: String!) {
    login(input: { identifier: $identifier, password: $password }) {
      __typename
      ... on LoginSuccess { accessToken refreshToken }
    }
  }
`);
const VerifyPassword = graphql(`
  mutation MetricsSecVerifyPassword($userId: ID!, $password: String!) {
    verifyPassword(input: { userId: $userId, password: $password }) { __typename }
  }
`);
const RequestReset = graphql(`
  mutation MetricsSecRequestReset($userId: ID!) {
    requestPasswordReset(input: { userId: $userId, returnCode: true }) { __typename ... on RequestPasswordResetSuccess { issuedCode } }
  }
`);
const StartTotp = graphql(`
  mutation MetricsSecStartTotp($userId: ID!) {
    startTotpRegistration(input: { userId: $userId }) { __typename ... on StartTotpRegistrationSuccess { secret } }
  }
`);
const Refresh = graphql(`
  mutation MetricsSecRefresh($refreshToken: String!) { refreshSession(input: { refreshToken: $refreshToken }) { __typename } }
`);
const CreateWebhookApp = graphql(`
  mutation MetricsSecCreateWebhookApp($url: String!) {
    createWebhookApp(input: { name: "leak check", url: $url }) { __typename ... on CreateWebhookAppSuccess { secret webhookApp { id } } }
  }
`);
const Me = graphql(`
  query MetricsSecMe($id: ID!) { user(id: $id) { id email } }
`);

/** POSTs a request body as written (a typed document, or raw text an attacker makes up). */
async function post(url: string, body: { query: string; variables?: unknown; operationName?: string }, token: string | null = BOOTSTRAP_KEY) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return (await response.json()) as ExecutionResult<any>;
}
const send = <R, V>(url: string, document: TypedDocumentNode<R, V>, variables: V, token: string | null = BOOTSTRAP_KEY) =>
  post(url, { query: print(document), variables }, token) as Promise<ExecutionResult<R>>;

const canary = (what: string) => `${what}${randomBytes(6).toString('hex')}`;

let t: TestApp;
let url: string;
let metricsUrl: string;

beforeAll(async () => {
  t = await createTestApp({ env: { PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: 'true' } });
  ({ url, metricsUrl } = await t.app.start());
});

afterAll(async () => {
  await t?.close();
});

describe('/metrics after traffic full of identifiers and secrets', () => {
  it('holds none of them, and only labels from closed sets', async () => {
    const email = `${canary('leakmail')}@example.org`;
    const username = canary('leakuser');
    const password = canary('LeakPassword-');
    const wrongPassword = canary('WrongPassword-');
    const created = await send(url, CreateUser, { email, username, password });
    if (created.data?.createUser.__typename !== 'CreateUserSuccess') throw new Error(JSON.stringify(created));
    const userId = created.data.createUser.user.id;

    const signedIn = await send(url, Login, { identifier: email, password }, null);
    if (signedIn.data?.login.__typename !== 'LoginSuccess') throw new Error(JSON.stringify(signedIn));
    const { accessToken, refreshToken } = signedIn.data.login;
    await send(url, Login, { identifier: username, password: wrongPassword }, null);
    await send(url, Login, { identifier: `${canary('nobody')}@example.org`, password: wrongPassword }, null);
    await send(url, VerifyPassword, { userId, password: wrongPassword });
    await send(url, Me, { id: userId }, accessToken);
    await send(url, Refresh, { refreshToken }, null);
    const reset = await send(url, RequestReset, { userId });
    const resetCode = reset.data?.requestPasswordReset.__typename === 'RequestPasswordResetSuccess' ? reset.data.requestPasswordReset.issuedCode : null;
    const totp = await send(url, StartTotp, { userId });
    const totpSecret = totp.data?.startTotpRegistration.__typename === 'StartTotpRegistrationSuccess' ? totp.data.startTotpRegistration.secret : null;
    const hookToken = canary('hooktoken');
    const app = await send(url, CreateWebhookApp, { url: `http://127.0.0.1:9/${canary('hookpath')}?token=${hookToken}` });
    const webhookSecret = app.data?.createWebhookApp.__typename === 'CreateWebhookAppSuccess' ? app.data.createWebhookApp.secret : null;
    const { key: apiKey } = await t.app.services.apiKeys.createApiKey({ name: canary('leakkey'), scopes: ['*'] }, systemMeta);
    await send(url, Me, { id: userId }, apiKey);
    // What callers write themselves: operation names, unknown fields, variables, a bogus token.
    const operationName = canary('LeakOperation_');
    const fieldName = canary('leakField_');
    await post(url, { query: `query ${operationName} { __typename }`, operationName });
    await post(url, { query: `query { ${fieldName} }` });
    await post(url, { query: `query ${operationName}($x: String) { __typename }`, variables: { x: email } });
    const bogusToken = canary('bogus-token-');
    await post(url, { query: '{ users(first: 1) { totalCount } }' }, bogusToken);

    const secrets = { email, username, password, wrongPassword, userId, accessToken, refreshToken, resetCode, totpSecret, hookToken, webhookSecret, apiKey, operationName, fieldName, bogusToken };
    for (const value of Object.values(secrets)) expect(value, 'every canary was produced').toBeTruthy();

    const m = await scrape(metricsUrl);
    for (const [name, value] of Object.entries(secrets)) {
      expect(m.text.includes(value!), `${name} appears in /metrics`).toBe(false);
      // The parts of an address or a token, and the numeric codes, are looked for among the label values.
      for (const sample of m.samples) expect(Object.values(sample.labels), `${name} in ${sample.name}`).not.toContain(value);
    }
    expect(m.text).not.toContain('@example.org');
    expect(m.text).not.toContain('usr_');
    expect(m.text).not.toContain('pck_');
    expect(m.text).not.toContain('whsec_');

    // Operation labels are the schema's root fields and a few fixed words, never what the caller wrote.
    const schema = await loadSchema();
    const rootFields = new Set(
      [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((type) => Object.keys(type?.getFields() ?? {})),
    );
    const fixed = new Set(['(invalid)', '(unknown)', '(multiple)', '__typename', '__schema', '__type']);
    const operations = m.find('portcullis_graphql_operations_total');
    expect(operations.length).toBeGreaterThan(5);
    for (const { labels } of operations) {
      expect(rootFields.has(labels.operation) || fixed.has(labels.operation), labels.operation).toBe(true);
      expect(labels.result).toMatch(/^(success|[A-Z][A-Za-z]*Error|Error|[A-Z][A-Z0-9_]*)$/);
    }
    // Every other label value is a short lower-case word from its family's closed set.
    for (const sample of m.samples.filter((s) => s.name.startsWith('portcullis_') && !s.name.startsWith('portcullis_graphql_'))) {
      for (const [label, value] of Object.entries(sample.labels)) {
        if (label !== 'le') expect(value, `${sample.name} ${label}`).toMatch(/^[a-z_]{1,40}$/);
      }
    }
  });
});

describe('label sets under made-up names', () => {
  const labelSets = (m: Scrape) => new Set(m.samples.filter((s) => s.name.startsWith('portcullis_')).map((s) => `${s.name}${JSON.stringify(s.labels)}`));

  it('stay bounded when an attacker sends 500 requests with random operation and field names', async () => {
    // Each kind of request once first, so that what follows can only repeat label sets.
    const attack = async (i: number) => {
      const name = `Op_${randomBytes(8).toString('hex')}`;
      const token = i % 2 ? BOOTSTRAP_KEY : null;
      switch (i % 5) {
        case 0:
          return post(url, { query: `query ${name} { __typename }`, operationName: name }, token);
        case 1:
          return post(url, { query: `mutation ${name} { ${name}(input: { userId: "${name}" }) { __typename } }` }, token);
        case 2:
          return post(url, { query: `query ${name} { __typename }`, operationName: `${name}_other` }, token);
        case 3:
          return post(url, { query: `subscription ${name} { ${name} }` }, token);
        default:
          return post(url, { query: `query ${name} { users(first: 1) { totalCount } }`, operationName: name }, token);
      }
    };
    for (let i = 0; i < 10; i++) await attack(i);
    const before = labelSets(await scrape(metricsUrl));
    for (let i = 10; i < 510; i++) await attack(i);
    const after = await scrape(metricsUrl);
    const added = [...labelSets(after)].filter((set) => !before.has(set));
    expect(added).toEqual([]);
    expect(after.text).not.toContain('Op_');
    expect(after.sum('portcullis_graphql_operations_total')).toBeGreaterThanOrEqual(510);
  });
});
