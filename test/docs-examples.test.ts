/**
 * The GraphQL examples of docs/users.md, docs/migrating.md, docs/organizations.md,
 * docs/metadata.md, docs/tokens-and-keys.md and docs/identity-providers.md, run in
 * order against a gateway as an API key, so the docs cannot drift from the API.
 *
 * The convention, stated at the top of each doc:
 * - every ```graphql block is an example: one named operation whose first line
 *   is `# expect: <TypeName>`, the __typename its first root field answers
 *   (`null` when that field answers null);
 * - a ```json block right after it holds its variables; a string
 *   "$<Operation>.<path>" is a value from the result of an earlier example of
 *   the same doc (array items by index: `codes.0`), and "$totp:<Operation>.<path>"
 *   is the current TOTP code for the secret found there;
 * - an optional second line `# token: "$<Operation>.<path>"` runs the example
 *   with that token instead of the API key (an access token: what a signed-in
 *   user does; or another API key or a personal access token);
 * - a query whose first root field is a scalar (`can`) states the value:
 *   `# expect: true`;
 * - "$signin:<account>:<Operation>.<path to an authUrl>.<id|token>" is what the
 *   app's success URL receives after <account> signs in at the identity provider
 *   with that authUrl (a browser's part: here the test drives the provider).
 *   docs/identity-providers.md names Google's issuer; its gateway reaches a
 *   local OpenID provider under that name, so nothing leaves the machine.
 * Each doc runs on a gateway of its own, so a doc's examples depend only on
 * each other.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.js';
import { completeCallback, startIdpGateway } from './helpers/identity-providers.js';
import { startOidcProvider, type TestOidcProvider } from './helpers/oidc-provider.js';
import { referenceTotp } from './helpers/totp.js';

interface Example {
  line: number;
  name: string;
  expect: string;
  /** A "$Operation.path" reference to the access token to run it with. */
  token?: string;
  document: string;
  variables?: unknown;
}

/** The examples of one markdown file, in order. */
function examplesOf(markdown: string): Example[] {
  const fence = /^```(\w*)\n([\s\S]*?)^```[ \t]*$/gm;
  const blocks = [...markdown.matchAll(fence)].map((m) => ({
    lang: m[1],
    body: m[2],
    start: m.index,
    end: m.index + m[0].length,
    line: markdown.slice(0, m.index).split('\n').length,
  }));
  const examples: Example[] = [];
  blocks.forEach((block, i) => {
    if (block.lang !== 'graphql') return;
    const where = `line ${block.line}`;
    const expected = /^# expect: (\w+)\s*$/m.exec(block.body.split('\n')[0]);
    if (!expected) throw new Error(`${where}: a graphql example starts with "# expect: <TypeName>"`);
    const operations = parse(block.body).definitions.filter((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
    if (operations.length !== 1 || !operations[0].name) throw new Error(`${where}: an example holds one named operation`);
    const next = blocks[i + 1];
    const withVariables = next?.lang === 'json' && markdown.slice(block.end, next.start).trim() === '';
    const token = /^# token: "(\$[\w.]+)"\s*$/.exec(block.body.split('\n')[1] ?? '');
    examples.push({
      line: block.line,
      name: operations[0].name.value,
      expect: expected[1],
      token: token?.[1],
      document: block.body,
      variables: withVariables ? JSON.parse(next.body) : undefined,
    });
  });
  return examples;
}

/** Follows a dotted path (numbers index arrays) into a result. */
function valueAt(root: unknown, path: string[], ref: string): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !(key in value)) throw new Error(`${ref}: no "${key}" in the earlier result`);
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** The client docs/identity-providers.md registers, and the Google accounts its examples sign in with. */
const DOC_IDP = {
  issuer: 'https://accounts.google.com',
  clientId: '1234567890-portcullis.apps.googleusercontent.com',
  clientSecret: 'GOCSPX-example-client-secret',
  accounts: {
    ada: { sub: '110248495921238986420', email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace', given_name: 'Ada', family_name: 'Lovelace', picture: 'https://lh3.example.com/a/ada' },
    grace: { sub: '103265478965412365874', email: 'grace@example.com', email_verified: true, name: 'Grace Hopper', given_name: 'Grace', family_name: 'Hopper' },
  },
};

/**
 * The gateway of docs/identity-providers.md: listening (providers redirect to its
 * callback), its intents allowed back to https://app.example.com, and an OpenID
 * provider on 127.0.0.1 answering for Google's issuer.
 */
async function identityProviderGateway(): Promise<{ t: TestApp; op: TestOidcProvider }> {
  let op: TestOidcProvider | undefined;
  const { t, callbackUrl } = await startIdpGateway({ idpFetch: (input, init) => op!.fetch(input, init) });
  op = await startOidcProvider({
    issuer: DOC_IDP.issuer,
    clients: [{ client_id: DOC_IDP.clientId, client_secret: DOC_IDP.clientSecret, redirect_uris: [callbackUrl] }],
  });
  for (const [login, account] of Object.entries(DOC_IDP.accounts)) op.accounts.set(login, account);
  return { t, op };
}

for (const file of ['docs/users.md', 'docs/migrating.md', 'docs/organizations.md', 'docs/metadata.md', 'docs/tokens-and-keys.md', 'docs/identity-providers.md']) {
  describe(`the examples in ${file}`, () => {
    const examples = examplesOf(readFileSync(path.resolve(import.meta.dirname, '..', file), 'utf8'));
    const results = new Map<string, unknown>();
    let t: TestApp;
    let op: TestOidcProvider | undefined;
    /** What each authUrl's success URL received: its trip to the provider is made once. */
    const trips = new Map<string, Promise<{ id: string | null; token: string | null }>>();

    const earlier = (value: string, name: string, dotted: string) => {
      if (!results.has(name)) throw new Error(`${value}: no earlier example named ${name}`);
      return valueAt(results.get(name), dotted.split('.'), value);
    };

    /** Replaces "$Operation.path", "$totp:Operation.path" and "$signin:account:Operation.path.param" strings with what they name. */
    const resolve = async (value: unknown): Promise<unknown> => {
      if (Array.isArray(value)) return Promise.all(value.map(resolve));
      if (value !== null && typeof value === 'object') return Object.fromEntries(await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolve(v)])));
      if (typeof value !== 'string') return value;
      const signin = /^\$signin:(\w+):(\w+)\.(.+)\.(id|token)$/.exec(value);
      if (signin) {
        const authUrl = String(earlier(value, signin[2], signin[3]));
        if (!trips.has(authUrl)) trips.set(authUrl, op!.signIn(authUrl, signin[1]).then(completeCallback));
        const outcome = await trips.get(authUrl)!;
        if (!outcome[signin[4] as 'id' | 'token']) throw new Error(`${value}: the sign-in did not come back with ${signin[4]} (${JSON.stringify(outcome)})`);
        return outcome[signin[4] as 'id' | 'token'];
      }
      const ref = /^\$(totp:)?(\w+)\.(.+)$/.exec(value);
      if (!ref) return value;
      const found = earlier(value, ref[2], ref[3]);
      return ref[1] ? referenceTotp(String(found), t.app.services.clock.now()) : found;
    };

    beforeAll(async () => {
      if (file === 'docs/identity-providers.md') {
        ({ t, op } = await identityProviderGateway());
        return;
      }
      t = await createTestApp({
        // Webhook examples name public hosts: they resolve to a public address here, and
        // deliveries are answered in-process, so nothing leaves the machine.
        webhookLookup: async () => [{ address: '93.184.216.34', family: 4 }],
        webhookSender: async () => ({ status: 204 }),
      });
    });
    afterAll(async () => {
      await t?.close();
      await op?.close();
    });

    it('has examples, each with a name of its own', () => {
      expect(examples.length).toBeGreaterThan(10);
      const names = examples.map((e) => e.name);
      expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    });

    for (const example of examples) {
      it(`${example.name} (line ${example.line}) answers ${example.expect}`, async () => {
        const token = example.token ? String(await resolve(example.token)) : undefined;
        const result = await t.exec(parse(example.document) as never, (await resolve(example.variables)) as never, token ? { token } : undefined);
        expect(result.errors).toBeUndefined();
        const data = result.data as Record<string, { __typename?: string } | boolean | null>;
        const first = data[Object.keys(data)[0]];
        expect(first === null || typeof first === 'boolean' ? String(first) : first.__typename).toBe(example.expect);
        results.set(example.name, data);
      });
    }
  });
}
