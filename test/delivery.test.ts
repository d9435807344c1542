/**
 * The real senders against local receivers: a Twilio-style SMS API that
 * records the request, and a Standard Webhooks-signed HTTP hook whose
 * receiver checks the signature with the `standardwebhooks` package. Codes
 * travel from the gateway to the receiver and back into verifyPhone /
 * verifyEmail through the GraphQL API.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { HookPayload } from '../src/kernel/delivery/hook-sender.js';
import { createLogger } from '../src/kernel/logger.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const CreateUser = graphql(`
  mutation DeliveryCreateUser($input: CreateUserInput!) {
    createUser(input: $input) { __typename ... on CreateUserSuccess { user { id } } ... on Error { code } }
  }
`);
const SetPhone = graphql(`
  mutation DeliverySetPhone($input: SetPhoneInput!) {
    setPhone(input: $input) { __typename ... on SetPhoneSuccess { sentTo } ... on DeliveryFailedError { code channel message } ... on Error { code } }
  }
`);
const VerifyPhone = graphql(`
  mutation DeliveryVerifyPhone($input: VerifyPhoneInput!) { verifyPhone(input: $input) { __typename ... on VerifyPhoneSuccess { user { phoneVerified } } ... on Error { code } } }
`);
const SetEmail = graphql(`
  mutation DeliverySetEmail($input: SetEmailInput!) {
    setEmail(input: $input) { __typename ... on SetEmailSuccess { sentTo } ... on Error { code } }
  }
`);
const VerifyEmail = graphql(`
  mutation DeliveryVerifyEmail($input: VerifyEmailInput!) { verifyEmail(input: $input) { __typename ... on VerifyEmailSuccess { user { emailVerified } } ... on Error { code } } }
`);

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A local HTTP server that records every request and answers with the status `respond` picks. */
async function recorder(respond: (req: Recorded) => number) {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(recorded);
      const status = respond(recorded);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(status < 300 ? { sid: 'SM123', status: 'queued' } : { message: 'refused' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { requests, url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function newUser(t: TestApp): Promise<string> {
  const r = await t.run(CreateUser, { input: {} });
  return (r.createUser as { user: { id: string } }).user.id;
}

describe('SMS through a Twilio-style API', () => {
  let failing = false;
  let sms: Awaited<ReturnType<typeof recorder>>;
  let t: TestApp;
  const lines: string[] = [];
  beforeAll(async () => {
    sms = await recorder(() => (failing ? 500 : 201));
    t = await createTestApp({
      logger: createLogger('info', { write: (l: string) => void lines.push(l) }),
      env: {
        PORTCULLIS_SMS_DELIVERY: 'twilio',
        TWILIO_BASE_URL: `${sms.url}/`,
        TWILIO_ACCOUNT_SID: 'AC0123456789abcdef',
        TWILIO_AUTH_TOKEN: 'twilio-token-secret',
        TWILIO_FROM: '+15005550006',
        PORTCULLIS_PRODUCT_NAME: 'Acme ID',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await sms?.close();
  });

  it('posts the form with basic auth; the code it carries verifies the phone', async () => {
    const userId = await newUser(t);
    const set = await t.run(SetPhone, { input: { userId, phone: '+14155550123' } });
    expect(set.setPhone).toMatchObject({ __typename: 'SetPhoneSuccess', sentTo: '+1 ••• ••• 0123' });
    expect(sms.requests).toHaveLength(1);
    const req = sms.requests[0];
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/2010-04-01/Accounts/AC0123456789abcdef/Messages.json');
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from('AC0123456789abcdef:twilio-token-secret').toString('base64')}`);
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(req.body);
    expect(form.get('To')).toBe('+14155550123');
    expect(form.get('From')).toBe('+15005550006');
    const body = form.get('Body')!;
    expect(body).toMatch(/^Your Acme ID verification code is \d{6}\. It expires in 10 minutes\.$/);
    const code = /(\d{6})/.exec(body)![1];
    const ok = await t.run(VerifyPhone, { input: { userId, code } });
    expect(ok.verifyPhone).toMatchObject({ __typename: 'VerifyPhoneSuccess', user: { phoneVerified: true } });
  });

  it('turns a provider error into DeliveryFailedError, logged without the code', async () => {
    const userId = await newUser(t);
    failing = true;
    try {
      const r = await t.run(SetPhone, { input: { userId, phone: '+14155550124' } });
      expect(r.setPhone).toMatchObject({ __typename: 'DeliveryFailedError', code: 'DELIVERY_FAILED', channel: 'sms' });
    } finally {
      failing = false;
    }
    const code = /(\d{6})/.exec(new URLSearchParams(sms.requests.at(-1)!.body).get('Body')!)![1];
    const failure = lines.map((l) => JSON.parse(l)).find((e) => e.msg === 'delivery failed');
    expect(failure).toMatchObject({ delivery: { sender: 'twilio', channel: 'sms', to: '+1 ••• ••• 0124' }, reason: 'Error: SMS provider answered HTTP 500' });
    expect(lines.join('\n')).not.toContain(code);
    expect(lines.join('\n')).not.toContain('twilio-token-secret');
    // The code was revoked: it does not verify.
    const r = await t.run(VerifyPhone, { input: { userId, code } });
    expect(r.verifyPhone.__typename).toBe('IncorrectCodeError');
  });
});

// The receiver checks signatures with the `standardwebhooks` package, an
// implementation independent of the gateway's, in both secret forms.
describe.each([
  ['a whsec_ secret', `whsec_${randomBytes(24).toString('base64')}`, (secret: string) => new Webhook(secret)],
  ['a plain secret, used as written', 'hook-secret-0123456789', (secret: string) => new Webhook(secret, { format: 'raw' })],
])('a Standard Webhooks-signed HTTP hook for email, with %s', (_form, secret, receiverFor) => {
  const receiver = receiverFor(secret);
  let hook: Awaited<ReturnType<typeof recorder>>;
  let t: TestApp;
  const verified = (req: Recorded) => {
    try {
      receiver.verify(req.body, req.headers as Record<string, string>);
      return true;
    } catch {
      return false;
    }
  };
  beforeAll(async () => {
    // The receiver refuses anything whose signature does not check out.
    hook = await recorder((req) => (verified(req) ? 204 : 401));
    t = await createTestApp({
      env: { PORTCULLIS_EMAIL_DELIVERY: 'http', PORTCULLIS_DELIVERY_HOOK_URL: `${hook.url}/deliver`, PORTCULLIS_DELIVERY_HOOK_SECRET: secret },
    });
  });
  afterAll(async () => {
    await t?.close();
    await hook?.close();
  });

  it('posts a JSON message the receiver authenticates; its code verifies the email', async () => {
    const userId = await newUser(t);
    const set = await t.run(SetEmail, { input: { userId, email: 'hooked@example.com' } });
    // The receiver answered 204 only because the signature verified.
    expect(set.setEmail).toMatchObject({ __typename: 'SetEmailSuccess', sentTo: 'h•••@example.com' });
    const req = hook.requests.at(-1)!;
    expect(req.url).toBe('/deliver');
    expect(req.headers['content-type']).toBe('application/json');
    const payload = receiver.verify(req.body, req.headers as Record<string, string>) as HookPayload;
    expect(req.headers['webhook-id']).toBe(payload.id);
    expect(payload).toMatchObject({ channel: 'email', to: 'hooked@example.com', template: 'verify_email', locale: 'en', params: { productName: 'Portcullis', ttlSeconds: 600 } });
    expect(payload.text).toContain(payload.params.code);
    const ok = await t.run(VerifyEmail, { input: { userId, code: payload.params.code } });
    expect(ok.verifyEmail).toMatchObject({ __typename: 'VerifyEmailSuccess', user: { emailVerified: true } });
  });

  it('is refused when the body, the id or the secret differ', () => {
    const req = hook.requests.at(-1)!;
    const headers = req.headers as Record<string, string>;
    expect(verified(req)).toBe(true);
    expect(verified({ ...req, body: req.body.replace('hooked', 'hacked') })).toBe(false);
    expect(verified({ ...req, headers: { ...req.headers, 'webhook-id': 'another-id' } })).toBe(false);
    expect(() => new Webhook(`whsec_${randomBytes(24).toString('base64')}`).verify(req.body, headers)).toThrow(WebhookVerificationError);
    expect(() => new Webhook('hook-secret-9876543210', { format: 'raw' }).verify(req.body, headers)).toThrow(WebhookVerificationError);
  });

  it('is refused once its timestamp is more than five minutes old (replay)', () => {
    const req = hook.requests.at(-1)!;
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 10 * 60_000);
      expect(() => receiver.verify(req.body, req.headers as Record<string, string>)).toThrow('Message timestamp too old');
    } finally {
      vi.useRealTimers();
    }
  });
});
