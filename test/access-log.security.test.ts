/**
 * Threats: secrets in the log. Whoever reads the logs (a log pipeline, a
 * support engineer, a breached log store) must not find a password, a code,
 * a token or a key there, nor the email addresses of the users who signed in
 * (personal data: the access log names a user by id only). Every kind of
 * secret the gateway handles goes through real HTTP here — in variables, in
 * the document itself, in a GET query string, in Authorization — and the
 * whole log, at debug level, is searched for each.
 *
 * And: a caller that writes X-Request-Id would give its requests an id of its
 * choosing in the log (another request's, to muddle an investigation). The
 * id is taken only from a trusted proxy (PORTCULLIS_TRUST_PROXY).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_KEY, capturedLogger, createTestApp, type TestApp } from './helpers/app.js';
import { codeSink } from './helpers/code-sink.js';
import { seed } from './helpers/seed.js';
import { referenceTotp } from './helpers/totp.js';
import { accessLineOf, accessLines, post } from './helpers/access-log.js';
import { systemMeta } from '../src/kernel/events/outbox.js';

const LOGIN = 'mutation ($identifier: String!, $password: String!) { login(input: { identifier: $identifier, password: $password }) { __typename ... on LoginSuccess { accessToken refreshToken } ... on MfaRequired { mfaToken } } }';
const COMPLETE = 'mutation ($input: CompleteMfaLoginInput!) { completeMfaLogin(input: $input) { __typename ... on CompleteMfaLoginSuccess { accessToken refreshToken } } }';

describe('secrets in the log', () => {
  const { lines, logger } = capturedLogger('debug');
  const sink = codeSink();
  let t: TestApp;
  let url: string;
  /** Every secret that crossed the wire. */
  const secrets: Record<string, string> = { bootstrapKey: BOOTSTRAP_KEY };
  let requests = 0;
  const send = (...args: Parameters<typeof post>) => {
    requests++;
    return post(...args);
  };

  beforeAll(async () => {
    t = await createTestApp({ logger, delivery: sink.delivery, env: { HOST: '127.0.0.1', PORTCULLIS_ACCESS_LOG: 'true' } });
    url = (await t.app.start()).url;

    // A user created over the API, with the password in the variables.
    secrets.alicePassword = 'alice-secret-password-1';
    secrets.aliceEmail = 'alice.secret@example.com';
    const created = await send(url, 'mutation ($input: CreateUserInput!) { createUser(input: $input) { __typename } }', { input: { email: secrets.aliceEmail, password: secrets.alicePassword } }, { token: BOOTSTRAP_KEY });
    expect(created.body.data.createUser.__typename).toBe('CreateUserSuccess');

    // Sign-in: a wrong password, then the right one in the document itself; the tokens it returns, used and refreshed.
    secrets.wrongPassword = 'alice-wrong-password-2';
    expect((await send(url, LOGIN, { identifier: secrets.aliceEmail, password: secrets.wrongPassword })).body.data.login.__typename).toBe('IncorrectPasswordError');
    const inline = await send(url, `mutation { login(input: { identifier: "${secrets.aliceEmail}", password: "${secrets.alicePassword}" }) { ... on LoginSuccess { accessToken refreshToken } } }`);
    ({ accessToken: secrets.accessToken, refreshToken: secrets.refreshToken } = inline.body.data.login);
    expect((await send(url, '{ me { id } }', {}, { token: secrets.accessToken })).status).toBe(200);
    const refreshed = await send(url, 'mutation ($t: String!) { refreshSession(input: { refreshToken: $t }) { ... on RefreshSessionSuccess { accessToken refreshToken } } }', { t: secrets.refreshToken });
    ({ accessToken: secrets.refreshedAccessToken, refreshToken: secrets.refreshedRefreshToken } = refreshed.body.data.refreshSession);
    expect(secrets.refreshedRefreshToken).toBeTruthy();

    // A TOTP second factor: the MFA token and the code.
    secrets.bobPassword = 'bob-secret-password-3';
    const bob = await seed(t).user({ email: 'bob.secret@example.com', password: secrets.bobPassword }).withTotp();
    secrets.bobEmail = bob.email!;
    secrets.bobMfaToken = (await send(url, LOGIN, { identifier: bob.email, password: secrets.bobPassword })).body.data.login.mfaToken;
    // The next step's code: the current one was spent registering the authenticator.
    secrets.totpCode = referenceTotp(bob.totp!.secret, new Date(Date.now() + 30_000));
    const totp = await send(url, COMPLETE, { input: { mfaToken: secrets.bobMfaToken, method: 'TOTP', code: secrets.totpCode } });
    expect(totp.body.data.completeMfaLogin.__typename).toBe('CompleteMfaLoginSuccess');
    secrets.bobAccessToken = totp.body.data.completeMfaLogin.accessToken;

    // A one-time code by email as the second factor.
    secrets.carolPassword = 'carol-secret-password-4';
    const carol = await seed(t).user({ email: 'carol.secret@example.com', password: secrets.carolPassword }).withOtpEmail();
    secrets.carolEmail = carol.email!;
    secrets.carolMfaToken = (await send(url, LOGIN, { identifier: carol.email, password: secrets.carolPassword })).body.data.login.mfaToken;
    const sent = await send(url, 'mutation ($t: String!) { sendMfaOtp(input: { mfaToken: $t, channel: EMAIL }) { __typename } }', { t: secrets.carolMfaToken });
    expect(sent.body.data.sendMfaOtp.__typename).toBe('SendMfaOtpSuccess');
    secrets.otpCode = sink.lastCode(carol.email!);
    const otp = await send(url, COMPLETE, { input: { mfaToken: secrets.carolMfaToken, method: 'OTP_EMAIL', code: secrets.otpCode } });
    expect(otp.body.data.completeMfaLogin.__typename).toBe('CompleteMfaLoginSuccess');

    // An API key in Authorization, and a secret in a GET request's query string.
    secrets.apiKey = (await t.app.services.apiKeys.createApiKey({ name: 'log-test', scopes: ['*'] }, systemMeta)).key;
    expect((await send(url, '{ users(first: 5) { totalCount } }', {}, { token: secrets.apiKey })).status).toBe(200);
    secrets.queryString = 'secret-in-query-string-5';
    const get = await fetch(`${url}?query=${encodeURIComponent('query ($id: ID!) { user(id: $id) { id } }')}&variables=${encodeURIComponent(JSON.stringify({ id: secrets.queryString }))}`, {
      headers: { authorization: `Bearer ${BOOTSTRAP_KEY}`, accept: 'application/json' },
    });
    requests++;
    expect(get.status).toBe(200);
    await accessLineOf(lines, get.headers.get('x-request-id')!);
  });
  afterAll(() => t.close());

  it('logged every request (so the search below searched something)', async () => {
    // The last request's line is awaited above; the others closed before it was sent.
    expect(accessLines(lines)).toHaveLength(requests);
    expect(accessLines(lines).map((l) => l.operation)).toEqual(expect.arrayContaining(['createUser', 'login', 'completeMfaLogin', 'sendMfaOtp', 'refreshSession', 'me']));
  });

  it('holds none of them anywhere in the log', () => {
    const log = lines.join('\n');
    for (const [name, secret] of Object.entries(secrets)) {
      expect(secret, name).toBeTruthy();
      expect(log.includes(secret), `${name} is in the log`).toBe(false);
    }
    // Nor the Authorization header by name.
    expect(log.toLowerCase()).not.toContain('bearer');
  });
});

describe('a caller-chosen X-Request-Id', () => {
  const SPOOFED = 'spoofed-request-id-0001';

  async function gateway(env: Record<string, string>) {
    const { lines, logger } = capturedLogger();
    const t = await createTestApp({ logger, env: { HOST: '127.0.0.1', PORTCULLIS_ACCESS_LOG: 'true', ...env } });
    return { t, lines, url: (await t.app.start()).url };
  }
  const opened: TestApp[] = [];
  afterAll(async () => {
    for (const t of opened) await t.close();
  });

  it('is not taken from a caller the gateway does not trust: the request gets its own id, in the answer and the log', async () => {
    const { t, lines, url } = await gateway({});
    opened.push(t);
    const call = await post(url, '{ users(first: 1) { totalCount } }', {}, { token: BOOTSTRAP_KEY, headers: { 'x-request-id': SPOOFED } });
    expect(call.requestId).toMatch(/^[0-9a-f-]{36}$/);
    await accessLineOf(lines, call.requestId);
    expect(lines.join('\n')).not.toContain(SPOOFED);
  });

  it('is taken from a trusted proxy, when it has the expected shape', async () => {
    const { t, lines, url } = await gateway({ PORTCULLIS_TRUST_PROXY: 'true' });
    opened.push(t);
    const call = await post(url, '{ users(first: 1) { totalCount } }', {}, { token: BOOTSTRAP_KEY, headers: { 'x-request-id': SPOOFED } });
    expect(call.requestId).toBe(SPOOFED);
    expect(await accessLineOf(lines, SPOOFED)).toMatchObject({ status: 200 });

    const odd = await post(url, '{ users(first: 1) { totalCount } }', {}, { token: BOOTSTRAP_KEY, headers: { 'x-request-id': 'has spaces and "quotes"' } });
    expect(odd.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
