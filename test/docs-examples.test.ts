/**
 * The GraphQL examples of docs/users.md, docs/migrating.md, docs/organizations.md, docs/metadata.md and docs/tokens-and-keys.md, run in order
 * against a gateway as an API key, so the docs cannot drift from the API.
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
 *   `# expect: true`.
 * Each doc runs on a gateway of its own, so a doc's examples depend only on
 * each other.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, type OperationDefinitionNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.js';
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

for (const file of ['docs/users.md', 'docs/migrating.md', 'docs/organizations.md', 'docs/metadata.md', 'docs/tokens-and-keys.md']) {
  describe(`the examples in ${file}`, () => {
    const examples = examplesOf(readFileSync(path.resolve(import.meta.dirname, '..', file), 'utf8'));
    const results = new Map<string, unknown>();
    let t: TestApp;

    /** Replaces "$Operation.path" and "$totp:Operation.path" strings with what they name. */
    const resolve = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(resolve);
      if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
      const ref = typeof value === 'string' ? /^\$(totp:)?(\w+)\.(.+)$/.exec(value) : null;
      if (!ref) return value;
      if (!results.has(ref[2])) throw new Error(`${value}: no earlier example named ${ref[2]}`);
      const found = valueAt(results.get(ref[2]), ref[3].split('.'), value as string);
      return ref[1] ? referenceTotp(String(found), t.app.services.clock.now()) : found;
    };

    beforeAll(async () => {
      t = await createTestApp({
        // Webhook examples name public hosts: they resolve to a public address here, and
        // deliveries are answered in-process, so nothing leaves the machine.
        webhookLookup: async () => [{ address: '93.184.216.34', family: 4 }],
        webhookSender: async () => ({ status: 204 }),
      });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('has examples, each with a name of its own', () => {
      expect(examples.length).toBeGreaterThan(10);
      const names = examples.map((e) => e.name);
      expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    });

    for (const example of examples) {
      it(`${example.name} (line ${example.line}) answers ${example.expect}`, async () => {
        const token = example.token ? String(resolve(example.token)) : undefined;
        const result = await t.exec(parse(example.document) as never, resolve(example.variables) as never, token ? { token } : undefined);
        expect(result.errors).toBeUndefined();
        const data = result.data as Record<string, { __typename?: string } | boolean | null>;
        const first = data[Object.keys(data)[0]];
        expect(first === null || typeof first === 'boolean' ? String(first) : first.__typename).toBe(example.expect);
        results.set(example.name, data);
      });
    }
  });
}
