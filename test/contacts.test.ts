import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { codeSink } from './helpers/code-sink.js';

const CreateUser = graphql(`
  mutation ContactsCreateUser($input: CreateUserInput!) {
    createUser(input: $input) { __typename ... on CreateUserSuccess { user { id } } ... on Error { code } }
  }
`);
const UpdateUser = graphql(`
  mutation ContactsUpdateUser($input: UpdateUserInput!) {
    updateUser(input: $input) { __typename ... on Error { code } }
  }
`);
const LockUser = graphql(`
  mutation ContactsLockUser($id: ID!) { lockUser(input: { userId: $id }) { __typename } }
`);
const SetEmail = graphql(`
  mutation SetEmail($input: SetEmailInput!) {
    setEmail(input: $input) {
      __typename
      ... on SetEmailSuccess { issuedCode codeExpiresAt sentTo user { id email emailVerified emailVerifiedAt emailMasked } }
      ... on AlreadyExistsError { code field }
      ... on InvalidInputError { code field }
      ... on DeliveryFailedError { code channel message }
      ... on ResendCooldownError { retryAfter }
      ... on Error { code message }
    }
  }
`);
const VerifyEmail = graphql(`
  mutation VerifyEmail($input: VerifyEmailInput!) {
    verifyEmail(input: $input) {
      __typename
      ... on VerifyEmailSuccess { user { id email emailVerified emailVerifiedAt } }
      ... on IncorrectCodeError { code codeAttemptsLeft attemptsBeforeLock message }
      ... on TooManyAttemptsError { code retryAfter }
      ... on InvalidStateError { state }
      ... on Error { code message }
    }
  }
`);
const ResendEmailCode = graphql(`
  mutation ResendEmailCode($input: ResendEmailCodeInput!) {
    resendEmailCode(input: $input) {
      __typename
      ... on ResendEmailCodeSuccess { codeExpiresAt sentTo }
      ... on ResendCooldownError { code retryAfter }
      ... on Error { code message }
    }
  }
`);
const SetPhone = graphql(`
  mutation SetPhone($input: SetPhoneInput!) {
    setPhone(input: $input) {
      __typename
      ... on SetPhoneSuccess { issuedCode sentTo user { id phone phoneVerified phoneVerifiedAt phoneMasked } }
      ... on InvalidInputError { code field }
      ... on ResendCooldownError { retryAfter }
      ... on DeliveryFailedError { code channel }
      ... on Error { code message }
    }
  }
`);
const VerifyPhone = graphql(`
  mutation VerifyPhone($input: VerifyPhoneInput!) {
    verifyPhone(input: $input) {
      __typename
      ... on VerifyPhoneSuccess { user { phone phoneVerified } }
      ... on IncorrectCodeError { code codeAttemptsLeft attemptsBeforeLock }
      ... on InvalidStateError { state }
      ... on Error { code message }
    }
  }
`);
const ResendPhoneCode = graphql(`
  mutation ResendPhoneCode($input: ResendPhoneCodeInput!) {
    resendPhoneCode(input: $input) { __typename ... on ResendPhoneCodeSuccess { sentTo } ... on ResendCooldownError { retryAfter } ... on Error { code } }
  }
`);
const ContactEvents = graphql(`
  query ContactEvents($userId: ID!) {
    events(first: 100, userId: $userId) { edges { node { type data } } }
  }
`);

const clock = manualClock();
const sink = codeSink();
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ clock, delivery: sink.delivery, env: { PORTCULLIS_DEFAULT_PHONE_REGION: 'US' } });
});
afterAll(async () => t?.close());

async function newUser(input: Record<string, unknown> = {}): Promise<string> {
  const r = await t.run(CreateUser, { input });
  if (r.createUser.__typename !== 'CreateUserSuccess') throw new Error(r.createUser.__typename);
  return r.createUser.user.id;
}

const wrong = (code: string) => (code === '000000' ? '111111' : '000000');

describe('setEmail and verifyEmail', () => {
  it('sends a code that verifies the address once, and records events without the code', async () => {
    const userId = await newUser();
    const set = await t.run(SetEmail, { input: { userId, email: 'Jane.Doe@Example.com' } });
    expect(set.setEmail).toMatchObject({
      __typename: 'SetEmailSuccess',
      issuedCode: null,
      sentTo: 'J•••@Example.com',
      user: { email: 'Jane.Doe@Example.com', emailVerified: false, emailVerifiedAt: null, emailMasked: 'J•••@Example.com' },
    });
    const message = sink.sent.at(-1)!;
    expect(message).toMatchObject({ channel: 'email', to: 'Jane.Doe@Example.com', template: 'verify_email', locale: 'en' });
    const code = message.params.code;
    expect(code).toMatch(/^\d{6}$/);
    expect(message.subject).toContain('Portcullis');
    expect(message.text).toContain(code);
    expect(message.text).toContain('10 minutes');

    const bad = await t.run(VerifyEmail, { input: { userId, code: wrong(code) } });
    expect(bad.verifyEmail).toMatchObject({ __typename: 'IncorrectCodeError', code: 'INCORRECT_CODE', codeAttemptsLeft: 4, attemptsBeforeLock: 9 });
    expect(JSON.stringify(bad)).not.toContain(code);

    const ok = await t.run(VerifyEmail, { input: { userId, code } });
    expect(ok.verifyEmail).toMatchObject({ __typename: 'VerifyEmailSuccess', user: { emailVerified: true, emailVerifiedAt: clock.now().toISOString() } });
    // Verified now: there is nothing left to verify, so the code is not even looked at.
    const replay = await t.run(VerifyEmail, { input: { userId, code } });
    expect(replay.verifyEmail).toMatchObject({ __typename: 'InvalidStateError', code: 'INVALID_STATE', state: 'EMAIL_VERIFIED' });

    const events = await t.run(ContactEvents, { userId });
    const types = events.events.edges.map((e) => e.node.type);
    expect(types).toEqual(['USER_CREATED', 'USER_EMAIL_CHANGED', 'USER_EMAIL_VERIFIED']);
    expect(JSON.stringify(events)).not.toContain(code);
    expect(events.events.edges[2].node.data).toMatchObject({ method: 'code', user: { emailVerified: true } });
  });

  it('returns the code with RETURN_CODE and sends nothing', async () => {
    const userId = await newUser();
    const before = sink.sent.length;
    const set = await t.run(SetEmail, { input: { userId, email: 'ret@example.com', verification: 'RETURN_CODE' } });
    expect(set.setEmail.__typename).toBe('SetEmailSuccess');
    if (set.setEmail.__typename !== 'SetEmailSuccess') return;
    expect(set.setEmail.issuedCode).toMatch(/^\d{6}$/);
    expect(set.setEmail.sentTo).toBeNull();
    expect(new Date(set.setEmail.codeExpiresAt!).getTime()).toBe(clock.now().getTime() + 600_000);
    expect(sink.sent.length).toBe(before);
    const ok = await t.run(VerifyEmail, { input: { userId, code: set.setEmail.issuedCode! } });
    expect(ok.verifyEmail.__typename).toBe('VerifyEmailSuccess');
  });

  it('marks the address verified with MARK_VERIFIED; the same address again changes nothing', async () => {
    const userId = await newUser();
    const set = await t.run(SetEmail, { input: { userId, email: 'trusted@example.com', verification: 'MARK_VERIFIED' } });
    expect(set.setEmail).toMatchObject({ issuedCode: null, sentTo: null, user: { emailVerified: true } });
    const again = await t.run(SetEmail, { input: { userId, email: 'TRUSTED@example.com', verification: 'SEND_CODE' } });
    expect(again.setEmail).toMatchObject({ issuedCode: null, sentTo: null, user: { email: 'TRUSTED@example.com', emailVerified: true } });
    const events = await t.run(ContactEvents, { userId });
    expect(events.events.edges.map((e) => e.node.type)).toEqual(['USER_CREATED', 'USER_EMAIL_CHANGED', 'USER_EMAIL_VERIFIED', 'USER_EMAIL_CHANGED']);
    expect(events.events.edges[2].node.data).toMatchObject({ method: 'admin' });
  });

  it('resets verification when the address changes, and a code for the old address cannot verify the new one', async () => {
    const userId = await newUser();
    await t.run(SetEmail, { input: { userId, email: 'old@example.com', verification: 'MARK_VERIFIED' } });
    const changed = await t.run(SetEmail, { input: { userId, email: 'first@example.com', verification: 'RETURN_CODE' } });
    expect(changed.setEmail).toMatchObject({ user: { emailVerified: false } });
    const codeForFirst = (changed.setEmail as { issuedCode: string }).issuedCode;
    // updateUser changes the address without issuing a code: the pending one stays bound to first@.
    await t.run(UpdateUser, { input: { userId, email: 'second@example.com' } });
    const r = await t.run(VerifyEmail, { input: { userId, code: codeForFirst } });
    expect(r.verifyEmail).toMatchObject({ __typename: 'IncorrectCodeError' });
    const check = await t.run(SetEmail, { input: { userId, email: 'second@example.com', verification: 'RETURN_CODE' } });
    expect(check.setEmail).toMatchObject({ user: { email: 'second@example.com', emailVerified: false } });
  });

  it('refuses an expired code (injectable clock)', async () => {
    const userId = await newUser();
    const set = await t.run(SetEmail, { input: { userId, email: 'late@example.com', verification: 'RETURN_CODE' } });
    clock.advance(600_001);
    const r = await t.run(VerifyEmail, { input: { userId, code: (set.setEmail as { issuedCode: string }).issuedCode } });
    expect(r.verifyEmail).toMatchObject({ __typename: 'CodeExpiredError', code: 'CODE_EXPIRED' });
  });

  it('stops after the attempts a code allows, even for the right code', async () => {
    const userId = await newUser();
    const set = await t.run(SetEmail, { input: { userId, email: 'guess@example.com', verification: 'RETURN_CODE' } });
    const code = (set.setEmail as { issuedCode: string }).issuedCode;
    const remaining: Array<number | null> = [];
    for (let i = 0; i < 5; i++) {
      const r = await t.run(VerifyEmail, { input: { userId, code: wrong(code) } });
      remaining.push((r.verifyEmail as { codeAttemptsLeft: number | null }).codeAttemptsLeft);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    const r = await t.run(VerifyEmail, { input: { userId, code } });
    expect(r.verifyEmail).toMatchObject({ __typename: 'TooManyAttemptsError', code: 'TOO_MANY_ATTEMPTS' });
  });

  it('enforces the resend cooldown, and a resent code replaces the older one', async () => {
    const userId = await newUser();
    await t.run(SetEmail, { input: { userId, email: 'cool@example.com' } });
    const first = sink.lastCode('cool@example.com');
    const early = await t.run(ResendEmailCode, { input: { userId } });
    expect(early.resendEmailCode).toEqual({
      __typename: 'ResendCooldownError',
      code: 'RESEND_COOLDOWN',
      retryAfter: new Date(clock.now().getTime() + 30_000).toISOString(),
      message: `A code was sent moments ago; a new one can be sent from ${new Date(clock.now().getTime() + 30_000).toISOString()}.`,
    });
    clock.advance(30_000);
    const resent = await t.run(ResendEmailCode, { input: { userId } });
    expect(resent.resendEmailCode).toMatchObject({ __typename: 'ResendEmailCodeSuccess', sentTo: 'c•••@example.com' });
    // Codes are random: one resend in a million repeats the old one. Resend until they differ, so the
    // check below always runs (and a generator stuck on one code fails here).
    let second = sink.lastCode('cool@example.com');
    for (let i = 0; second === first; i++) {
      if (i === 3) throw new Error('every resent code equals the first');
      clock.advance(30_000);
      expect((await t.run(ResendEmailCode, { input: { userId } })).resendEmailCode.__typename).toBe('ResendEmailCodeSuccess');
      second = sink.lastCode('cool@example.com');
    }
    const old = await t.run(VerifyEmail, { input: { userId, code: first } });
    expect(old.verifyEmail).toMatchObject({ __typename: 'IncorrectCodeError' });
    const ok = await t.run(VerifyEmail, { input: { userId, code: second } });
    expect(ok.verifyEmail.__typename).toBe('VerifyEmailSuccess');
    const done = await t.run(ResendEmailCode, { input: { userId } });
    expect(done.resendEmailCode).toMatchObject({ __typename: 'InvalidStateError' });
  });

  it('answers ResendCooldownError when setEmail sends again within the cooldown; the address is saved unverified and the resend works later', async () => {
    const userId = await newUser();
    expect((await t.run(SetEmail, { input: { userId, email: 'first-try@example.com' } })).setEmail.__typename).toBe('SetEmailSuccess');
    const before = sink.sent.length;
    clock.advance(10_000);
    const early = await t.run(SetEmail, { input: { userId, email: 'second-try@example.com' } });
    expect(early.setEmail).toMatchObject({ __typename: 'ResendCooldownError', code: 'RESEND_COOLDOWN', retryAfter: new Date(clock.now().getTime() + 20_000).toISOString() });
    expect(sink.sent.length).toBe(before);
    // Not an attempt: the lockout counter is untouched.
    expect(await t.app.database.client.user.findUniqueOrThrow({ where: { id: userId } })).toMatchObject({ email: 'second-try@example.com', failedCodeAttempts: 0 });
    clock.advance(20_000);
    expect((await t.run(ResendEmailCode, { input: { userId } })).resendEmailCode).toMatchObject({ __typename: 'ResendEmailCodeSuccess', sentTo: 's•••@example.com' });
    const ok = await t.run(VerifyEmail, { input: { userId, code: sink.lastCode('second-try@example.com') } });
    expect(ok.verifyEmail.__typename).toBe('VerifyEmailSuccess');
  });

  it('answers typed errors: taken address, bad input, unknown user, locked user', async () => {
    const a = await newUser();
    const b = await newUser();
    await t.run(SetEmail, { input: { userId: a, email: 'taken@example.com', verification: 'MARK_VERIFIED' } });
    const taken = await t.run(SetEmail, { input: { userId: b, email: 'Taken@Example.com' } });
    expect(taken.setEmail).toMatchObject({ __typename: 'AlreadyExistsError', code: 'ALREADY_EXISTS', field: 'email' });
    const bad = await t.run(SetEmail, { input: { userId: b, email: 'not an email' } });
    expect(bad.setEmail).toMatchObject({ __typename: 'InvalidInputError', field: 'email' });
    const none = await t.run(SetEmail, { input: { userId: 'usr_nobody', email: 'x@example.com' } });
    expect(none.setEmail).toMatchObject({ __typename: 'UserNotFoundError' });
    const set = await t.run(SetEmail, { input: { userId: b, email: 'locked@example.com', verification: 'RETURN_CODE' } });
    await t.run(LockUser, { id: b });
    const locked = await t.run(VerifyEmail, { input: { userId: b, code: (set.setEmail as { issuedCode: string }).issuedCode } });
    expect(locked.verifyEmail).toMatchObject({ __typename: 'UserLockedError', code: 'USER_LOCKED' });
    const resend = await t.run(ResendEmailCode, { input: { userId: b } });
    expect(resend.resendEmailCode).toMatchObject({ __typename: 'UserLockedError' });
  });

  it('writes messages in the language named by the user metadata', async () => {
    const userId = await newUser({ metadata: { locale: 'de-AT' } });
    await t.run(SetEmail, { input: { userId, email: 'anna@example.at' } });
    const message = sink.sent.at(-1)!;
    expect(message.locale).toBe('de');
    expect(message.text).toContain('Bestätigungscode');
    expect(message.text).toContain(message.params.code);
  });
});

describe('verifying with nothing to verify', () => {
  it('answers InvalidStateError and never counts toward the lockout: 12 calls leave the user active, and a real verification works', async () => {
    const userId = await newUser();
    const attempts = async () => (await t.app.database.client.user.findUniqueOrThrow({ where: { id: userId } })).failedCodeAttempts;
    const answers: unknown[] = [];
    // No address at all, then addresses that are already verified: 12 calls, more than the code lockout's 10.
    for (let i = 0; i < 3; i++) answers.push((await t.run(VerifyEmail, { input: { userId, code: '123456' } })).verifyEmail);
    for (let i = 0; i < 3; i++) answers.push((await t.run(VerifyPhone, { input: { userId, code: '123456' } })).verifyPhone);
    await t.run(SetEmail, { input: { userId, email: 'done@example.com', verification: 'MARK_VERIFIED' } });
    await t.run(SetPhone, { input: { userId, phone: '+14155550111', verification: 'MARK_VERIFIED' } });
    for (let i = 0; i < 3; i++) answers.push((await t.run(VerifyEmail, { input: { userId, code: '123456' } })).verifyEmail);
    for (let i = 0; i < 3; i++) answers.push((await t.run(VerifyPhone, { input: { userId, code: '123456' } })).verifyPhone);
    expect(answers).toEqual([
      ...Array(3).fill({ __typename: 'InvalidStateError', code: 'INVALID_STATE', state: 'NO_EMAIL', message: 'The user has no email address.' }),
      ...Array(3).fill({ __typename: 'InvalidStateError', code: 'INVALID_STATE', state: 'NO_PHONE', message: 'The user has no phone number.' }),
      ...Array(3).fill({ __typename: 'InvalidStateError', code: 'INVALID_STATE', state: 'EMAIL_VERIFIED', message: 'The email address is already verified.' }),
      ...Array(3).fill({ __typename: 'InvalidStateError', code: 'INVALID_STATE', state: 'PHONE_VERIFIED', message: 'The phone number is already verified.' }),
    ]);
    expect(await t.app.database.client.user.findUniqueOrThrow({ where: { id: userId } })).toMatchObject({ state: 'ACTIVE', failedCodeAttempts: 0 });

    // A new address has something to verify: a wrong code counts, the right one verifies.
    const set = await t.run(SetPhone, { input: { userId, phone: '+14155550112', verification: 'RETURN_CODE' } });
    const code = (set.setPhone as { issuedCode: string }).issuedCode;
    expect((await t.run(VerifyPhone, { input: { userId, code: wrong(code) } })).verifyPhone).toMatchObject({ __typename: 'IncorrectCodeError', attemptsBeforeLock: 9 });
    expect(await attempts()).toBe(1);
    expect((await t.run(VerifyPhone, { input: { userId, code } })).verifyPhone).toMatchObject({
      __typename: 'VerifyPhoneSuccess',
      user: { phone: '+14155550112', phoneVerified: true },
    });
    expect(await attempts()).toBe(0);
  });
});

describe('setPhone and verifyPhone', () => {
  it('normalises to E.164 with the default region, sends an SMS, and verifies', async () => {
    const userId = await newUser();
    const set = await t.run(SetPhone, { input: { userId, phone: '(415) 555-0123' } });
    expect(set.setPhone).toMatchObject({
      __typename: 'SetPhoneSuccess',
      sentTo: '+1 ••• ••• 0123',
      user: { phone: '+14155550123', phoneVerified: false, phoneMasked: '+1 ••• ••• 0123' },
    });
    const message = sink.sent.at(-1)!;
    expect(message).toMatchObject({ channel: 'sms', to: '+14155550123', template: 'verify_phone' });
    const bad = await t.run(VerifyPhone, { input: { userId, code: wrong(message.params.code) } });
    expect(bad.verifyPhone).toMatchObject({ __typename: 'IncorrectCodeError', codeAttemptsLeft: 4, attemptsBeforeLock: 9 });
    const ok = await t.run(VerifyPhone, { input: { userId, code: message.params.code } });
    expect(ok.verifyPhone).toMatchObject({ __typename: 'VerifyPhoneSuccess', user: { phone: '+14155550123', phoneVerified: true } });
    const events = await t.run(ContactEvents, { userId });
    expect(events.events.edges.map((e) => e.node.type)).toEqual(['USER_CREATED', 'USER_PHONE_CHANGED', 'USER_PHONE_VERIFIED']);
    // A different number is unverified again.
    const changed = await t.run(SetPhone, { input: { userId, phone: '+44 20 7946 0958', verification: 'RETURN_CODE' } });
    expect(changed.setPhone).toMatchObject({ user: { phone: '+442079460958', phoneVerified: false } });
  });

  it('holds repeated sends to new numbers to the resend cooldown (no SMS pumping), keeping the number unverified', async () => {
    const userId = await newUser();
    await t.run(SetPhone, { input: { userId, phone: '+14155550155' } });
    const before = sink.sent.length;
    const second = await t.run(SetPhone, { input: { userId, phone: '+14155550156' } });
    expect(second.setPhone).toMatchObject({ __typename: 'ResendCooldownError', code: 'RESEND_COOLDOWN', retryAfter: new Date(clock.now().getTime() + 30_000).toISOString() });
    expect(sink.sent.length).toBe(before);
    const oldCode = sink.lastCode('+14155550155');
    const stale = await t.run(VerifyPhone, { input: { userId, code: oldCode } });
    expect(stale.verifyPhone).toMatchObject({ __typename: 'IncorrectCodeError' });
    clock.advance(30_000);
    const resend = await t.run(ResendPhoneCode, { input: { userId } });
    expect(resend.resendPhoneCode).toMatchObject({ __typename: 'ResendPhoneCodeSuccess', sentTo: '+1 ••• ••• 0156' });
    const ok = await t.run(VerifyPhone, { input: { userId, code: sink.lastCode('+14155550156') } });
    expect(ok.verifyPhone).toMatchObject({ __typename: 'VerifyPhoneSuccess', user: { phone: '+14155550156', phoneVerified: true } });
  });

  it('names the field of an unparseable number', async () => {
    const userId = await newUser();
    const r = await t.run(SetPhone, { input: { userId, phone: '12' } });
    expect(r.setPhone).toMatchObject({ __typename: 'InvalidInputError', code: 'INVALID_INPUT', field: 'phone' });
  });

  it('reports a failed delivery as DeliveryFailedError and leaves no live code', async () => {
    const userId = await newUser();
    sink.fail();
    const refusedBefore = sink.refused.length;
    try {
      const r = await t.run(SetPhone, { input: { userId, phone: '+14155550199' } });
      expect(r.setPhone).toMatchObject({ __typename: 'DeliveryFailedError', code: 'DELIVERY_FAILED', channel: 'sms' });
    } finally {
      sink.fail(false);
    }
    // One message was handed to the provider, which refused it: its code reached nobody, and verifies nothing.
    expect(sink.refused.slice(refusedBefore)).toEqual([expect.objectContaining({ channel: 'sms', to: '+14155550199', template: 'verify_phone' })]);
    const lost = sink.refused.at(-1)!.params.code;
    const unsent = await t.run(VerifyPhone, { input: { userId, code: lost } });
    expect(unsent.verifyPhone).toMatchObject({ __typename: 'IncorrectCodeError' });
    // The revoked code holds no cooldown: a resend goes out at once, and it is the only code that works.
    const resend = await t.run(ResendPhoneCode, { input: { userId } });
    expect(resend.resendPhoneCode).toMatchObject({ __typename: 'ResendPhoneCodeSuccess', sentTo: '+1 ••• ••• 0199' });
    const ok = await t.run(VerifyPhone, { input: { userId, code: sink.lastCode('+14155550199') } });
    expect(ok.verifyPhone.__typename).toBe('VerifyPhoneSuccess');
  });
});
