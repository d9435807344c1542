/**
 * createPasskeyRegistrationLink without returnCode: the gateway sends the link
 * itself (PORTCULLIS_PASSKEY_LINK_URL), by email to a verified email, else by
 * SMS to a verified phone, and the code in the delivered link registers a passkey.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import type { CreateUserInput } from './gql/graphql.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { codeSink } from './helpers/code-sink.js';
import { softwareAuthenticator } from './helpers/webauthn-authenticator.js';
import { ORIGIN, StartWithCode, VerifyWithCode, webauthnEnv, type Options } from './helpers/webauthn-operations.js';

const CreateUser = graphql(`
  mutation LinkMailCreateUser($input: CreateUserInput!) {
    createUser(input: $input) { __typename ... on CreateUserSuccess { user { id } } ... on Error { code message } }
  }
`);
const CreateLink = graphql(`
  mutation LinkMailCreateLink($input: CreatePasskeyRegistrationLinkInput!) {
    createPasskeyRegistrationLink(input: $input) {
      __typename
      ... on CreatePasskeyRegistrationLinkSuccess { issuedCode sentTo expiresAt user { id } }
      ... on DeliveryFailedError { code channel }
      ... on ResendCooldownError { code retryAfter }
      ... on Error { code message }
    }
  }
`);

const LINK_URL = 'https://app.example.test/passkeys/new?user={userId}&code={code}';
const sink = codeSink();
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ delivery: sink.delivery, env: { ...webauthnEnv, PORTCULLIS_PASSKEY_LINK_URL: LINK_URL } });
});
afterAll(async () => t?.close());

async function newUser(input: CreateUserInput): Promise<string> {
  const r = await t.run(CreateUser, { input });
  if (r.createUser.__typename !== 'CreateUserSuccess') throw new Error(JSON.stringify(r.createUser));
  return r.createUser.user.id;
}

/** The link in a delivered message, and the user and code in it. */
function linkIn(text: string) {
  const link = text.match(/https:\/\/app\.example\.test\/\S+/)?.[0];
  if (!link) throw new Error(`no link in: ${text}`);
  const url = new URL(link);
  return { link, userId: url.searchParams.get('user'), code: url.searchParams.get('code')! };
}

describe('createPasskeyRegistrationLink sends the link', () => {
  it('by email to a verified email; the code in the delivered link registers a passkey', async () => {
    const userId = await newUser({ email: 'link@example.com', emailVerification: 'MARK_VERIFIED', phone: '+14155550160', phoneVerification: 'MARK_VERIFIED' });
    const before = sink.sent.length;
    const r = await t.run(CreateLink, { input: { userId } });
    expect(r.createPasskeyRegistrationLink).toMatchObject({ __typename: 'CreatePasskeyRegistrationLinkSuccess', issuedCode: null, sentTo: 'l•••@example.com', user: { id: userId } });
    expect(sink.sent.slice(before)).toHaveLength(1);
    const message = sink.sent.at(-1)!;
    expect(message).toMatchObject({ channel: 'email', to: 'link@example.com', template: 'passkey_registration_link', locale: 'en', subject: 'Portcullis: add a passkey' });
    expect(message.text).toContain('10 minutes');
    const { link, userId: linkedUser, code } = linkIn(message.text);
    expect(link).toBe(message.params.link);
    expect(linkedUser).toBe(userId);
    expect(code).toMatch(/^[0-9A-Z]{20}$/);

    const started = await t.run(StartWithCode, { input: { userId, code } }, { token: null });
    if (started.startPasskeyRegistrationWithCode.__typename !== 'StartPasskeyRegistrationWithCodeSuccess') throw new Error(JSON.stringify(started));
    const key = softwareAuthenticator({ origin: ORIGIN });
    const done = await t.run(VerifyWithCode, { input: { userId, response: key.register(started.startPasskeyRegistrationWithCode.options as Options) } }, { token: null });
    expect(done.verifyPasskeyRegistrationWithCode).toMatchObject({ __typename: 'VerifyPasskeyRegistrationWithCodeSuccess', authMethod: { kind: 'PASSKEY' } });
  });

  it('by SMS to a verified phone when the email is not verified, in the language of the user', async () => {
    const userId = await newUser({ email: 'sms-link@example.com', phone: '+14155550161', phoneVerification: 'MARK_VERIFIED', metadata: { locale: 'de' } });
    const r = await t.run(CreateLink, { input: { userId } });
    expect(r.createPasskeyRegistrationLink).toMatchObject({ __typename: 'CreatePasskeyRegistrationLinkSuccess', sentTo: '+1 ••• ••• 0161' });
    const message = sink.sent.at(-1)!;
    expect(message).toMatchObject({ channel: 'sms', to: '+14155550161', template: 'passkey_registration_link', locale: 'de' });
    expect(message.text).toContain('Passkey hinzuzufügen');
    const started = await t.run(StartWithCode, { input: { userId, code: linkIn(message.text).code } }, { token: null });
    expect(started.startPasskeyRegistrationWithCode.__typename).toBe('StartPasskeyRegistrationWithCodeSuccess');
  });

  it('refuses with EmailNotVerifiedError when the user has no verified address, sending nothing', async () => {
    const userId = await newUser({ email: 'unverified@example.com', phone: '+14155550162' });
    const before = sink.sent.length;
    const r = await t.run(CreateLink, { input: { userId } });
    expect(r.createPasskeyRegistrationLink).toMatchObject({ __typename: 'EmailNotVerifiedError', code: 'EMAIL_NOT_VERIFIED', message: expect.stringContaining('returnCode') });
    expect(sink.sent.length).toBe(before);
    expect(await t.app.database.client.oneTimeCode.count({ where: { userId } })).toBe(0);
    // returnCode still works for such a user.
    const returned = await t.run(CreateLink, { input: { userId, returnCode: true } });
    expect(returned.createPasskeyRegistrationLink).toMatchObject({ issuedCode: expect.stringMatching(/^[0-9A-Z]{20}$/), sentTo: null });
  });

  it('withdraws the code when the link cannot be delivered', async () => {
    const userId = await newUser({ email: 'bounce-link@example.com', emailVerification: 'MARK_VERIFIED' });
    sink.fail();
    let r;
    try {
      r = await t.run(CreateLink, { input: { userId } });
    } finally {
      sink.fail(false);
    }
    expect(r.createPasskeyRegistrationLink).toMatchObject({ __typename: 'DeliveryFailedError', channel: 'email' });
    const lost = await t.run(StartWithCode, { input: { userId, code: linkIn(sink.refused.at(-1)!.text).code } }, { token: null });
    expect(lost.startPasskeyRegistrationWithCode).toMatchObject({ __typename: 'IncorrectCodeError' });
  });

  it('honours the resend cooldown when sending, not when returning the code', async () => {
    const userId = await newUser({ email: 'again@example.com', emailVerification: 'MARK_VERIFIED' });
    expect((await t.run(CreateLink, { input: { userId } })).createPasskeyRegistrationLink.__typename).toBe('CreatePasskeyRegistrationLinkSuccess');
    const again = await t.run(CreateLink, { input: { userId } });
    expect(again.createPasskeyRegistrationLink).toMatchObject({ __typename: 'ResendCooldownError', retryAfter: expect.any(String) });
    const returned = await t.run(CreateLink, { input: { userId, returnCode: true } });
    expect(returned.createPasskeyRegistrationLink.__typename).toBe('CreatePasskeyRegistrationLinkSuccess');
  });
});
