import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { codeSink } from './helpers/code-sink.js';
import { seed } from './helpers/seed.js';

const CreateUser = graphql(`
  mutation OtpCreateUser($input: CreateUserInput!) {
    createUser(input: $input) { __typename ... on CreateUserSuccess { user { id } } ... on Error { code } }
  }
`);
const SetPhone = graphql(`
  mutation OtpSetPhone($input: SetPhoneInput!) { setPhone(input: $input) { __typename ... on Error { code } } }
`);
const VerifyPhone = graphql(`
  mutation OtpVerifyPhone($input: VerifyPhoneInput!) { verifyPhone(input: $input) { __typename ... on Error { code } } }
`);
const SetEmail = graphql(`
  mutation OtpSetEmail($input: SetEmailInput!) {
    setEmail(input: $input) { __typename ... on SetEmailSuccess { issuedCode } ... on Error { code } }
  }
`);
const VerifyEmail = graphql(`
  mutation OtpVerifyEmail($input: VerifyEmailInput!) { verifyEmail(input: $input) { __typename ... on Error { code } } }
`);
const AddOtpSms = graphql(`
  mutation AddOtpSms($input: AddOtpSmsInput!) {
    addOtpSms(input: $input) {
      __typename
      ... on AddOtpSmsSuccess { authMethod { __typename id kind verified phone } user { mfaEnabled authMethods { kind } } }
      ... on Error { code message }
    }
  }
`);
const RemoveOtpSms = graphql(`
  mutation RemoveOtpSms($input: RemoveOtpSmsInput!) {
    removeOtpSms(input: $input) { __typename ... on RemoveOtpSmsSuccess { removedAuthMethodId user { mfaEnabled } } ... on Error { code } }
  }
`);
const AddOtpEmail = graphql(`
  mutation AddOtpEmail($input: AddOtpEmailInput!) {
    addOtpEmail(input: $input) {
      __typename
      ... on AddOtpEmailSuccess { authMethod { __typename id kind email } }
      ... on Error { code message }
    }
  }
`);
const RemoveOtpEmail = graphql(`
  mutation RemoveOtpEmail($input: RemoveOtpEmailInput!) {
    removeOtpEmail(input: $input) { __typename ... on RemoveOtpEmailSuccess { removedAuthMethodId } ... on Error { code } }
  }
`);
const SendOtp = graphql(`
  mutation SendOtp($input: SendOtpInput!) {
    sendOtp(input: $input) {
      __typename
      ... on SendOtpSuccess { channel issuedCode codeExpiresAt sentTo user { id } }
      ... on ResendCooldownError { code retryAfter }
      ... on Error { code message }
    }
  }
`);
const VerifyOtp = graphql(`
  mutation VerifyOtp($input: VerifyOtpInput!) {
    verifyOtp(input: $input) {
      __typename
      ... on VerifyOtpSuccess { authMethod { __typename id kind lastUsedAt } user { id } }
      ... on IncorrectCodeError { code codeAttemptsLeft attemptsBeforeLock }
      ... on Error { code message }
    }
  }
`);
const MfaLogin = graphql(`
  mutation OtpCooldownLogin($input: LoginInput!) {
    login(input: $input) { __typename ... on MfaRequired { mfaToken } ... on Error { code } }
  }
`);
const SendMfaOtp = graphql(`
  mutation OtpCooldownSendMfaOtp($input: SendMfaOtpInput!) {
    sendMfaOtp(input: $input) {
      __typename
      ... on SendMfaOtpSuccess { sentTo }
      ... on ResendCooldownError { code message retryAfter }
      ... on Error { code message }
    }
  }
`);
const OtpEvents = graphql(`
  query OtpEvents($userId: ID!) { events(first: 100, userId: $userId) { edges { node { type data } } } }
`);

const clock = manualClock();
const sink = codeSink();
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ clock, delivery: sink.delivery });
});
afterAll(async () => t?.close());

let phoneSeq = 100;
/** A user with a phone verified through the real code flow. */
async function userWithVerifiedPhone(): Promise<{ userId: string; phone: string }> {
  const created = await t.run(CreateUser, { input: {} });
  const userId = (created.createUser as { user: { id: string } }).user.id;
  const phone = `+1415555${String(phoneSeq++).padStart(4, '0')}`;
  await t.run(SetPhone, { input: { userId, phone } });
  const verified = await t.run(VerifyPhone, { input: { userId, code: sink.lastCode(phone) } });
  expect(verified.verifyPhone.__typename).toBe('VerifyPhoneSuccess');
  return { userId, phone };
}

const wrong = (code: string) => (code === '000000' ? '111111' : '000000');

describe('OTP by SMS', () => {
  it('refuses addOtpSms before the phone is verified and accepts it after', async () => {
    const created = await t.run(CreateUser, { input: {} });
    const userId = (created.createUser as { user: { id: string } }).user.id;
    const none = await t.run(AddOtpSms, { input: { userId } });
    expect(none.addOtpSms).toMatchObject({ __typename: 'PhoneNotVerifiedError', code: 'PHONE_NOT_VERIFIED' });
    await t.run(SetPhone, { input: { userId, phone: '+14155550042' } });
    const unverified = await t.run(AddOtpSms, { input: { userId } });
    expect(unverified.addOtpSms).toMatchObject({ __typename: 'PhoneNotVerifiedError' });
    await t.run(VerifyPhone, { input: { userId, code: sink.lastCode('+14155550042') } });
    const added = await t.run(AddOtpSms, { input: { userId } });
    expect(added.addOtpSms).toMatchObject({
      __typename: 'AddOtpSmsSuccess',
      authMethod: { __typename: 'OtpSmsMethod', kind: 'OTP_SMS', verified: true, phone: '+1 ••• ••• 0042' },
      user: { mfaEnabled: true, authMethods: [{ kind: 'OTP_SMS' }] },
    });
    expect((added.addOtpSms as { authMethod: { id: string } }).authMethod.id).toMatch(/^am_sms_/);
    const twice = await t.run(AddOtpSms, { input: { userId } });
    expect(twice.addOtpSms).toMatchObject({ __typename: 'InvalidStateError', code: 'INVALID_STATE' });
  });

  it('sends a sign-in code by SMS; verifyOtp accepts it once and records lastUsedAt', async () => {
    const { userId, phone } = await userWithVerifiedPhone();
    await t.run(AddOtpSms, { input: { userId } });
    const sent = await t.run(SendOtp, { input: { userId, channel: 'SMS' } });
    expect(sent.sendOtp).toMatchObject({ __typename: 'SendOtpSuccess', channel: 'SMS', issuedCode: null, sentTo: `+1 ••• ••• ${phone.slice(-4)}` });
    const message = sink.sent.at(-1)!;
    expect(message).toMatchObject({ channel: 'sms', to: phone, template: 'otp_sign_in' });
    expect(message.text).toContain(message.params.code);
    expect(message.text).toContain('sign-in code');

    const bad = await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code: wrong(message.params.code) } });
    expect(bad.verifyOtp).toMatchObject({ __typename: 'IncorrectCodeError', codeAttemptsLeft: 4, attemptsBeforeLock: 9 });
    clock.advance(1000);
    const ok = await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code: message.params.code } });
    expect(ok.verifyOtp).toMatchObject({ __typename: 'VerifyOtpSuccess', authMethod: { __typename: 'OtpSmsMethod', kind: 'OTP_SMS', lastUsedAt: clock.now().toISOString() } });
    const replay = await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code: message.params.code } });
    expect(replay.verifyOtp).toMatchObject({ __typename: 'CodeAlreadyUsedError' });
  });

  it('returns the code with returnCode, enforces the cooldown otherwise, and a new code replaces the old', async () => {
    const { userId, phone } = await userWithVerifiedPhone();
    await t.run(AddOtpSms, { input: { userId } });
    const before = sink.sent.length;
    const returned = await t.run(SendOtp, { input: { userId, channel: 'SMS', returnCode: true } });
    expect(returned.sendOtp).toMatchObject({ __typename: 'SendOtpSuccess', sentTo: null });
    const first = (returned.sendOtp as { issuedCode: string }).issuedCode;
    expect(first).toMatch(/^\d{6}$/);
    expect(sink.sent.length).toBe(before);
    // Any issued code starts the cooldown, a returned one included.
    const tooSoon = await t.run(SendOtp, { input: { userId, channel: 'SMS' } });
    expect(tooSoon.sendOtp).toMatchObject({ __typename: 'ResendCooldownError', code: 'RESEND_COOLDOWN' });
    clock.advance(30_000);
    await t.run(SendOtp, { input: { userId, channel: 'SMS' } });
    let second = sink.lastCode(phone);
    const early = await t.run(SendOtp, { input: { userId, channel: 'SMS' } });
    expect(early.sendOtp).toMatchObject({ __typename: 'ResendCooldownError', retryAfter: new Date(clock.now().getTime() + 30_000).toISOString() });
    // Codes are random: one new code in a million repeats the old one. Send again until they differ, so
    // the check below always runs (and a generator stuck on one code fails here).
    for (let i = 0; second === first; i++) {
      if (i === 3) throw new Error('every new code equals the first');
      clock.advance(30_000);
      expect((await t.run(SendOtp, { input: { userId, channel: 'SMS' } })).sendOtp.__typename).toBe('SendOtpSuccess');
      second = sink.lastCode(phone);
    }
    const old = await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code: first } });
    expect(old.verifyOtp).toMatchObject({ __typename: 'IncorrectCodeError' });
    clock.advance(601_000);
    const expired = await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code: second } });
    expect(expired.verifyOtp).toMatchObject({ __typename: 'CodeExpiredError' });
  });

  it('stops sending once the phone changes, and removing the factor voids codes already sent', async () => {
    const { userId, phone } = await userWithVerifiedPhone();
    await t.run(AddOtpSms, { input: { userId } });
    await t.run(SendOtp, { input: { userId, channel: 'SMS' } });
    const pending = sink.lastCode(phone);
    const removed = await t.run(RemoveOtpSms, { input: { userId } });
    expect(removed.removeOtpSms).toMatchObject({ __typename: 'RemoveOtpSmsSuccess', user: { mfaEnabled: false } });
    expect((removed.removeOtpSms as { removedAuthMethodId: string }).removedAuthMethodId).toMatch(/^am_sms_/);
    const gone = await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code: pending } });
    expect(gone.verifyOtp).toMatchObject({ __typename: 'InvalidStateError' });
    const again = await t.run(RemoveOtpSms, { input: { userId } });
    expect(again.removeOtpSms).toMatchObject({ __typename: 'InvalidStateError' });
    const noFactor = await t.run(SendOtp, { input: { userId, channel: 'SMS' } });
    expect(noFactor.sendOtp).toMatchObject({ __typename: 'InvalidStateError' });

    await t.run(AddOtpSms, { input: { userId } });
    await t.run(SetPhone, { input: { userId, phone: '+14155550999', verification: 'RETURN_CODE' } });
    const unverified = await t.run(SendOtp, { input: { userId, channel: 'SMS' } });
    expect(unverified.sendOtp).toMatchObject({ __typename: 'PhoneNotVerifiedError' });

    const events = await t.run(OtpEvents, { userId });
    const types = events.events.edges.map((e) => e.node.type);
    expect(types.filter((x) => x.startsWith('USER_OTP'))).toEqual(['USER_OTP_SMS_ADDED', 'USER_OTP_SMS_REMOVED', 'USER_OTP_SMS_ADDED']);
    expect(events.events.edges.find((e) => e.node.type === 'USER_OTP_SMS_ADDED')!.node.data).toMatchObject({ authMethod: { kind: 'OTP_SMS' } });
  });

  it('answers UserNotFoundError for an unknown user', async () => {
    const r = await t.run(SendOtp, { input: { userId: 'usr_nobody', channel: 'SMS' } });
    expect(r.sendOtp).toMatchObject({ __typename: 'UserNotFoundError' });
    const v = await t.run(VerifyOtp, { input: { userId: 'usr_nobody', channel: 'SMS', code: '123456' } });
    expect(v.verifyOtp).toMatchObject({ __typename: 'UserNotFoundError' });
    const a = await t.run(AddOtpSms, { input: { userId: 'usr_nobody' } });
    expect(a.addOtpSms).toMatchObject({ __typename: 'UserNotFoundError' });
  });
});

describe('OTP by email', () => {
  it('requires a verified email, then sends and verifies sign-in codes by email', async () => {
    const created = await t.run(CreateUser, { input: { email: 'otp@example.com' } });
    const userId = (created.createUser as { user: { id: string } }).user.id;
    const refused = await t.run(AddOtpEmail, { input: { userId } });
    expect(refused.addOtpEmail).toMatchObject({ __typename: 'EmailNotVerifiedError', code: 'EMAIL_NOT_VERIFIED' });
    const set = await t.run(SetEmail, { input: { userId, email: 'otp@example.com', verification: 'RETURN_CODE' } });
    await t.run(VerifyEmail, { input: { userId, code: (set.setEmail as { issuedCode: string }).issuedCode } });
    const added = await t.run(AddOtpEmail, { input: { userId } });
    expect(added.addOtpEmail).toMatchObject({ __typename: 'AddOtpEmailSuccess', authMethod: { __typename: 'OtpEmailMethod', kind: 'OTP_EMAIL', email: 'o•••@example.com' } });

    const sent = await t.run(SendOtp, { input: { userId, channel: 'EMAIL' } });
    expect(sent.sendOtp).toMatchObject({ __typename: 'SendOtpSuccess', channel: 'EMAIL', sentTo: 'o•••@example.com' });
    const message = sink.sent.at(-1)!;
    expect(message).toMatchObject({ channel: 'email', to: 'otp@example.com', template: 'otp_sign_in' });
    expect(message.subject).toContain('sign-in code');
    // A code for the SMS channel is a different purpose: it does not verify email OTP and vice versa.
    const crossed = await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code: message.params.code } });
    expect(crossed.verifyOtp).toMatchObject({ __typename: 'InvalidStateError' });
    const ok = await t.run(VerifyOtp, { input: { userId, channel: 'EMAIL', code: message.params.code } });
    expect(ok.verifyOtp).toMatchObject({ __typename: 'VerifyOtpSuccess', authMethod: { __typename: 'OtpEmailMethod' } });

    const removed = await t.run(RemoveOtpEmail, { input: { userId } });
    expect(removed.removeOtpEmail.__typename).toBe('RemoveOtpEmailSuccess');
    const events = await t.run(OtpEvents, { userId });
    const types = events.events.edges.map((e) => e.node.type);
    expect(types).toEqual(expect.arrayContaining(['USER_OTP_EMAIL_ADDED', 'USER_OTP_EMAIL_REMOVED', 'USER_EMAIL_VERIFIED']));
    expect(JSON.stringify(events)).not.toContain(message.params.code);
  });

  it('reports a failed email delivery and leaves no live code', async () => {
    const created = await t.run(CreateUser, { input: {} });
    const userId = (created.createUser as { user: { id: string } }).user.id;
    await t.run(SetEmail, { input: { userId, email: 'down@example.com', verification: 'MARK_VERIFIED' } });
    await t.run(AddOtpEmail, { input: { userId } });
    sink.fail();
    const refusedBefore = sink.refused.length;
    try {
      const r = await t.run(SendOtp, { input: { userId, channel: 'EMAIL' } });
      expect(r.sendOtp).toMatchObject({ __typename: 'DeliveryFailedError', code: 'DELIVERY_FAILED' });
    } finally {
      sink.fail(false);
    }
    // The provider refused the one message: its code reached nobody, and signs nobody in.
    expect(sink.refused.slice(refusedBefore)).toEqual([expect.objectContaining({ channel: 'email', to: 'down@example.com', template: 'otp_sign_in' })]);
    const lost = sink.refused.at(-1)!.params.code;
    expect((await t.run(VerifyOtp, { input: { userId, channel: 'EMAIL', code: lost } })).verifyOtp).toMatchObject({ __typename: 'IncorrectCodeError' });
    // Revoked, so no cooldown holds the retry back; the code that arrives works.
    const retry = await t.run(SendOtp, { input: { userId, channel: 'EMAIL' } });
    expect(retry.sendOtp.__typename).toBe('SendOtpSuccess');
    const ok = await t.run(VerifyOtp, { input: { userId, channel: 'EMAIL', code: sink.lastCode('down@example.com') } });
    expect(ok.verifyOtp.__typename).toBe('VerifyOtpSuccess');
  });
});

describe('the resend cooldown in the MFA step-up', () => {
  it('answers sendMfaOtp within the cooldown with ResendCooldownError, sending nothing; after it, a new code goes out', async () => {
    const password = 'correct horse battery staple';
    const u = await seed(t).user({ phone: '+14155550777', password }).withOtpSms();
    const login = (await t.run(MfaLogin, { input: { identifier: u.email!, password } }, { token: null })).login;
    if (login.__typename !== 'MfaRequired') throw new Error(login.__typename);
    const send = () => t.run(SendMfaOtp, { input: { mfaToken: login.mfaToken, channel: 'SMS' } }, { token: null });
    expect((await send()).sendMfaOtp).toMatchObject({ __typename: 'SendMfaOtpSuccess' });
    const sent = sink.sent.length;
    clock.advance(5_000);
    expect((await send()).sendMfaOtp).toEqual({
      __typename: 'ResendCooldownError',
      code: 'RESEND_COOLDOWN',
      retryAfter: new Date(clock.now().getTime() + 25_000).toISOString(),
      message: `A code was sent moments ago; a new one can be sent from ${new Date(clock.now().getTime() + 25_000).toISOString()}.`,
    });
    expect(sink.sent.length).toBe(sent);
    clock.advance(25_000);
    expect((await send()).sendMfaOtp).toMatchObject({ __typename: 'SendMfaOtpSuccess' });
  });
});
