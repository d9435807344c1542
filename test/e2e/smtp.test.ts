/**
 * Email delivery end to end: the real `portcullis start` process sends over
 * SMTP (nodemailer, with credentials) to a real SMTP server listening on
 * 127.0.0.1; the test parses the received message with mailparser, takes the
 * code out of it, and verifyEmail accepts it over HTTP.
 */
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_KEY, ENCRYPTION_KEY } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { postGraphql, startGateway, type Gateway } from '../helpers/process.js';

const SMTP_USER = 'mailer';
const SMTP_PASSWORD = 'smtp-password-for-tests';

let db: TestDatabase;
let gateway: Gateway;
let smtp: SMTPServer;
const received: Array<{ envelopeTo: string[]; mail: ParsedMail; user: unknown }> = [];
let waiting: Array<() => void> = [];

/** Resolves once `count` messages have arrived (the server pushes; nothing polls or sleeps). */
function messages(count: number): Promise<void> {
  if (received.length >= count) return Promise.resolve();
  return new Promise((resolve) => waiting.push(() => received.length >= count && resolve()));
}

beforeAll(async () => {
  smtp = new SMTPServer({
    // Plain text on loopback; credentials still required and checked.
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          received.push({ envelopeTo: session.envelope.rcptTo.map((r) => r.address), mail, user: session.user });
          for (const wake of waiting) wake();
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const { port } = smtp.server.address() as AddressInfo;

  db = await freshDatabase();
  gateway = await startGateway({
    DATABASE_URL: db.url,
    PORTCULLIS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'portcullis-smtp-')),
    PORTCULLIS_BOOTSTRAP_API_KEY: BOOTSTRAP_KEY,
    PORTCULLIS_ENCRYPTION_KEY: ENCRYPTION_KEY,
    HOST: '127.0.0.1',
    PORTCULLIS_PRODUCT_NAME: 'Acme ID',
    PORTCULLIS_EMAIL_DELIVERY: 'smtp',
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(port),
    SMTP_SECURE: 'false',
    SMTP_USER,
    SMTP_PASSWORD,
    SMTP_FROM: 'Acme ID <no-reply@acme.test>',
  });
});

afterAll(async () => {
  await gateway?.stop();
  await db?.drop();
  await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  waiting = [];
});

describe('email verification over SMTP', () => {
  it('delivers a code by SMTP that verifyEmail accepts', async () => {
    const created = await postGraphql(gateway.url, 'mutation { createUser(input: {}) { ... on CreateUserSuccess { user { id } } } }', {}, BOOTSTRAP_KEY);
    const userId = created.body.data.createUser.user.id as string;

    const set = await postGraphql(
      gateway.url,
      'mutation($input: SetEmailInput!) { setEmail(input: $input) { __typename ... on SetEmailSuccess { sentTo user { emailVerified } } ... on Error { code message } } }',
      { input: { userId, email: 'jane@example.org', verification: 'SEND_CODE' } },
      BOOTSTRAP_KEY,
    );
    expect(set.body.data.setEmail).toEqual({ __typename: 'SetEmailSuccess', sentTo: 'j•••@example.org', user: { emailVerified: false } });

    await messages(1);
    const { mail, envelopeTo, user } = received[0];
    expect(user).toBe(SMTP_USER);
    expect(envelopeTo).toEqual(['jane@example.org']);
    expect(mail.from?.value[0]).toMatchObject({ address: 'no-reply@acme.test', name: 'Acme ID' });
    expect(mail.subject).toBe('Acme ID: confirm your email address');
    expect(mail.text).toContain('expires in 10 minutes');
    const code = /code is (\d{6})/.exec(mail.text ?? '')![1];

    const verify = (c: string) =>
      postGraphql(
        gateway.url,
        'mutation($input: VerifyEmailInput!) { verifyEmail(input: $input) { __typename ... on VerifyEmailSuccess { user { emailVerified } } ... on Error { code } } }',
        { input: { userId, code: c } },
        BOOTSTRAP_KEY,
      );
    const ok = await verify(code);
    expect(ok.body.data.verifyEmail).toEqual({ __typename: 'VerifyEmailSuccess', user: { emailVerified: true } });
    // Verified now: nothing is left to verify, whatever the code.
    const replay = await verify(code);
    expect(replay.body.data.verifyEmail).toEqual({ __typename: 'InvalidStateError', code: 'INVALID_STATE' });
  });
});
