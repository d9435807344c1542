/**
 * A relying service verifies access tokens with nothing but the gateway's JWKS
 * URL: a separate Node process uses jose.createRemoteJWKSet against the
 * running server, before and after a key rotation.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../../src/kernel/events/outbox.js';
import { BOOTSTRAP_KEY, createTestApp, type TestApp } from '../helpers/app.js';

const ISSUER = 'https://id.example.test';
const AUDIENCE = 'orders-api';
const root = path.resolve(import.meta.dirname, '..', '..');

let t: TestApp;
let origin: string;

beforeAll(async () => {
  t = await createTestApp({
    env: { HOST: '127.0.0.1', PORTCULLIS_ISSUER: ISSUER, PORTCULLIS_AUDIENCE: AUDIENCE },
  });
  const { url } = await t.app.start();
  origin = new URL(url).origin;
});
afterAll(() => t?.close());

/** Verifies tokens in another process, as a resource server would; prints one JSON line per token. */
function verifyElsewhere(tokens: string[]): Promise<Array<{ ok: boolean; sub?: string; kid?: string; error?: string }>> {
  const script = `
    import { createRemoteJWKSet, jwtVerify } from 'jose';
    const jwks = createRemoteJWKSet(new URL(process.env.JWKS_URL));
    for (const token of JSON.parse(process.env.TOKENS)) {
      try {
        const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: process.env.ISSUER, audience: process.env.AUDIENCE });
        console.log(JSON.stringify({ ok: true, sub: payload.sub, kid: protectedHeader.kid }));
      } catch (error) {
        console.log(JSON.stringify({ ok: false, error: error.code }));
      }
    }
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', JWKS_URL: `${origin}/.well-known/jwks.json`, TOKENS: JSON.stringify(tokens), ISSUER, AUDIENCE },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out.trim().split('\n').map((l) => JSON.parse(l))) : reject(new Error(`verifier exited ${code}: ${err}`))));
  });
}

async function graphqlPost(query: string, variables: Record<string, unknown>, token?: string) {
  const res = await fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data: Record<string, any>; errors?: unknown[] };
}

const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { __typename ... on LoginSuccess { accessToken } } }`;

describe('JWKS', () => {
  it('serves the public keys with cache headers and no private part', async () => {
    const res = await fetch(`${origin}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/jwk-set+json');
    expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const body = (await res.json()) as { keys: Array<Record<string, unknown>> };
    expect(body.keys.length).toBeGreaterThanOrEqual(1);
    for (const key of body.keys) {
      expect(key).toMatchObject({ kid: expect.stringMatching(/^sk_/), use: 'sig', alg: 'EdDSA' });
      expect(key).not.toHaveProperty('d');
    }
  });

  it('lets another process verify access tokens over HTTP, before and after a key rotation', async () => {
    const user = await t.app.services.users.createUser({ email: 'jwks@example.com' }, systemMeta);
    await t.app.services.passwords.setPassword(user.id, { password: 'a long enough password' }, systemMeta);
    const login = async () => {
      const r = await graphqlPost(LOGIN, { input: { identifier: 'jwks@example.com', password: 'a long enough password' } });
      expect(r.data.login.__typename).toBe('LoginSuccess');
      return r.data.login.accessToken as string;
    };
    const before = await login();
    const rotated = await graphqlPost('mutation { rotateSigningKey { ... on RotateSigningKeySuccess { signingKeyId retiredSigningKeyId } } }', {}, BOOTSTRAP_KEY);
    const { signingKeyId, retiredSigningKeyId } = rotated.data.rotateSigningKey;
    const after = await login();
    const tampered = `${after.slice(0, -4)}AAAA`;

    const results = await verifyElsewhere([before, after, tampered]);
    expect(results[0]).toEqual({ ok: true, sub: user.id, kid: retiredSigningKeyId });
    expect(results[1]).toEqual({ ok: true, sub: user.id, kid: signingKeyId });
    expect(results[2]).toMatchObject({ ok: false, error: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });
});
