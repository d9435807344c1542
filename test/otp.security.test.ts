/**
 * Threat: an attacker who can call the verification and OTP operations (or
 * reads what the gateway emits) tries to get past a one-time code by
 * (1) racing the same valid code through several requests at once to use it
 * twice, (2) guessing codes by brute force, sequentially or in a parallel
 * burst, or (3) reading codes from events, webhook payloads, error messages
 * or logs. Expected: a code verifies exactly once; guessing stops at the
 * per-code attempt limit and every failure counts toward the user's code
 * lockout; no code appears in any event, error or log line, except the
 * console sender's explicitly marked development line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/kernel/logger.js';
import { manualClock } from '../src/kernel/clock.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';

const CreateUser = graphql(`
  mutation SecCreateUser($input: CreateUserInput!) {
    createUser(input: $input) { __typename ... on CreateUserSuccess { user { id } } ... on Error { code } }
  }
`);
const SetEmail = graphql(`
  mutation SecSetEmail($input: SetEmailInput!) {
    setEmail(input: $input) { __typename ... on SetEmailSuccess { issuedCode } ... on Error { code message } }
  }
`);
const VerifyEmail = graphql(`
  mutation SecVerifyEmail($input: VerifyEmailInput!) { verifyEmail(input: $input) { __typename ... on Error { code message } } }
`);
const SetPhone = graphql(`
  mutation SecSetPhone($input: SetPhoneInput!) {
    setPhone(input: $input) { __typename ... on SetPhoneSuccess { issuedCode } ... on Error { code message } }
  }
`);
const VerifyPhone = graphql(`
  mutation SecVerifyPhone($input: VerifyPhoneInput!) { verifyPhone(input: $input) { __typename ... on Error { code message } } }
`);
const AddOtpSms = graphql(`
  mutation SecAddOtpSms($input: AddOtpSmsInput!) { addOtpSms(input: $input) { __typename ... on Error { code } } }
`);
const SendOtp = graphql(`
  mutation SecSendOtp($input: SendOtpInput!) {
    sendOtp(input: $input) { __typename ... on SendOtpSuccess { issuedCode } ... on Error { code message } }
  }
`);
const VerifyOtp = graphql(`
  mutation SecVerifyOtp($input: VerifyOtpInput!) {
    verifyOtp(input: $input) {
      __typename
      ... on IncorrectCodeError { codeAttemptsLeft attemptsBeforeLock }
      ... on Error { code message }
    }
  }
`);
const Unlock = graphql(`
  mutation SecUnlock($id: ID!) { unlockUser(input: { userId: $id }) { __typename } }
`);
const UserState = graphql(`
  query SecUserState($id: ID!) {
    user(id: $id) { state lockedReason events(first: 100, types: [USER_LOCKED]) { edges { node { type data } } } }
  }
`);

const wrong = (code: string) => (code === '000000' ? '111111' : '000000');

/** A user with a verified phone and an OTP_SMS factor, set up with returned codes (nothing sent). */
async function smsUser(t: TestApp, phone: string): Promise<string> {
  const created = await t.run(CreateUser, { input: {} });
  const userId = (created.createUser as { user: { id: string } }).user.id;
  await t.run(SetPhone, { input: { userId, phone, verification: 'MARK_VERIFIED' } });
  await t.run(AddOtpSms, { input: { userId } });
  return userId;
}

async function returnedOtp(t: TestApp, userId: string): Promise<string> {
  const r = await t.run(SendOtp, { input: { userId, channel: 'SMS', returnCode: true } });
  return (r.sendOtp as { issuedCode: string }).issuedCode;
}

/** The legitimate user after an admin unlock: a fresh code signs in. */
async function verifiesAfterUnlock(t: TestApp, userId: string) {
  expect((await t.run(Unlock, { id: userId })).unlockUser.__typename).toBe('UnlockUserSuccess');
  const fresh = await returnedOtp(t, userId);
  expect((await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code: fresh } })).verifyOtp.__typename).toBe('VerifyOtpSuccess');
}

describe('replay and brute force', () => {
  const clock = manualClock();
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ clock, env: { PORTCULLIS_LOCKOUT_CODE_ATTEMPTS: '7', PORTCULLIS_OTP_MAX_ATTEMPTS: '5' } });
  });
  afterAll(async () => t?.close());

  it('lets a code succeed exactly once when the same code is verified concurrently', async () => {
    const userId = await smsUser(t, '+14155550301');
    const code = await returnedOtp(t, userId);
    const results = await Promise.all(Array.from({ length: 6 }, () => t.run(VerifyOtp, { input: { userId, channel: 'SMS', code } })));
    const names = results.map((r) => r.verifyOtp.__typename);
    expect(names.filter((n) => n === 'VerifyOtpSuccess')).toHaveLength(1);
    for (const n of names.filter((x) => x !== 'VerifyOtpSuccess')) expect(['CodeAlreadyUsedError', 'TooManyAttemptsError']).toContain(n);

    const created = await t.run(CreateUser, { input: {} });
    const other = (created.createUser as { user: { id: string } }).user.id;
    const set = await t.run(SetEmail, { input: { userId: other, email: 'race@example.com', verification: 'RETURN_CODE' } });
    const emailCode = (set.setEmail as { issuedCode: string }).issuedCode;
    const verifies = await Promise.all(Array.from({ length: 6 }, () => t.run(VerifyEmail, { input: { userId: other, code: emailCode } })));
    expect(verifies.filter((r) => r.verifyEmail.__typename === 'VerifyEmailSuccess')).toHaveLength(1);
  });

  it('stops guessing at the per-code limit and locks the user when failures reach the code lockout policy', async () => {
    const userId = await smsUser(t, '+14155550302');
    const code = await returnedOtp(t, userId);
    const remaining: Array<{ codeAttemptsLeft: number | null; attemptsBeforeLock: number | null }> = [];
    for (let i = 0; i < 5; i++) {
      const r = await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code: wrong(code) } });
      expect(r.verifyOtp.__typename).toBe('IncorrectCodeError');
      const { codeAttemptsLeft, attemptsBeforeLock } = r.verifyOtp as { codeAttemptsLeft: number | null; attemptsBeforeLock: number | null };
      remaining.push({ codeAttemptsLeft, attemptsBeforeLock });
    }
    // Both budgets, each under its own name: the code runs out first (5 attempts), the account has 7.
    expect(remaining.map((r) => r.codeAttemptsLeft)).toEqual([4, 3, 2, 1, 0]);
    expect(remaining.map((r) => r.attemptsBeforeLock)).toEqual([6, 5, 4, 3, 2]);
    const exhausted = await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code } });
    expect(exhausted.verifyOtp.__typename).toBe('TooManyAttemptsError');

    // Six failures so far; a fresh code does not reset the user's counter.
    const fresh = await returnedOtp(t, userId);
    const last = await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code: wrong(fresh) } });
    // A fresh code has attempts left, but the account's budget is spent: this failure locked it.
    expect(last.verifyOtp).toMatchObject({ __typename: 'IncorrectCodeError', codeAttemptsLeft: 4, attemptsBeforeLock: 0 });
    const locked = await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code: fresh } });
    expect(locked.verifyOtp).toMatchObject({ __typename: 'UserLockedError', code: 'USER_LOCKED' });
    const state = await t.run(UserState, { id: userId });
    expect(state.user).toMatchObject({ state: 'LOCKED', lockedReason: 'too_many_failed_codes' });
    expect(state.user!.events.edges).toHaveLength(1);

    await verifiesAfterUnlock(t, userId);
  });

  it('evaluates exactly the per-code limit in a parallel burst, then refuses the right code until an unlock', async () => {
    const userId = await smsUser(t, '+14155550303');
    const code = await returnedOtp(t, userId);
    const burst = (await Promise.all(Array.from({ length: 20 }, () => t.run(VerifyOtp, { input: { userId, channel: 'SMS', code: wrong(code) } })))).map(
      (r) => r.verifyOtp.__typename,
    );
    // The code's 5 attempts are each compared once. The lockout reserves 7 slots before that, so the 2 that
    // find the code exhausted still count: 7 failures lock the user, and the rest are refused unseen.
    expect(burst.filter((n) => n === 'IncorrectCodeError')).toHaveLength(5);
    expect(burst.filter((n) => n !== 'IncorrectCodeError' && n !== 'TooManyAttemptsError' && n !== 'UserLockedError')).toEqual([]);
    expect((await t.run(UserState, { id: userId })).user).toMatchObject({ state: 'LOCKED', lockedReason: 'too_many_failed_codes' });
    const after = await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code } });
    expect(after.verifyOtp).toMatchObject({ __typename: 'UserLockedError', code: 'USER_LOCKED' });

    await verifiesAfterUnlock(t, userId);
  });
});

describe('codes never leak into events, errors or logs', () => {
  const lines: string[] = [];
  const logger = createLogger('debug', { write: (line: string) => void lines.push(line) });
  let t: TestApp;
  beforeAll(async () => {
    // The default console delivery, with the log captured: the one sanctioned place for a code.
    t = await createTestApp({ logger, env: { PORTCULLIS_DEFAULT_PHONE_REGION: 'US' } });
  });
  afterAll(async () => t?.close());

  const standalone = (code: string) => new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`);
  const isConsoleSenderLine = (line: string) => {
    const entry = JSON.parse(line) as { delivery?: { sender?: string; development?: boolean }; msg?: string };
    return entry.delivery?.sender === 'console' && entry.delivery.development === true && entry.msg?.startsWith('[DEVELOPMENT SENDER: not delivered]');
  };
  /** The code the console sender wrote for this address. */
  const codeFromLog = (to: string) => {
    const line = [...lines].reverse().find((l) => isConsoleSenderLine(l) && l.includes(`to ${to}:`));
    if (!line) throw new Error(`no console delivery to ${to}`);
    return /code is (\d{6})/.exec(JSON.parse(line).msg)![1];
  };

  it('keeps every code out of events, error payloads and every log line but the console sender’s', async () => {
    const delivered: string[] = [];
    const returned: string[] = [];
    const responses: unknown[] = [];
    const created = await t.run(CreateUser, { input: {} });
    const userId = (created.createUser as { user: { id: string } }).user.id;

    responses.push(await t.run(SetEmail, { input: { userId, email: 'leak@example.com' } }));
    delivered.push(codeFromLog('leak@example.com'));
    responses.push(await t.run(VerifyEmail, { input: { userId, code: wrong(delivered[0]) } }));
    responses.push(await t.run(VerifyEmail, { input: { userId, code: delivered[0] } }));
    responses.push(await t.run(VerifyEmail, { input: { userId, code: delivered[0] } }));

    responses.push(await t.run(SetPhone, { input: { userId, phone: '415 555 0404' } }));
    delivered.push(codeFromLog('+14155550404'));
    responses.push(await t.run(VerifyPhone, { input: { userId, code: delivered[1] } }));
    responses.push(await t.run(AddOtpSms, { input: { userId } }));
    responses.push(await t.run(SendOtp, { input: { userId, channel: 'SMS' } }));
    delivered.push(codeFromLog('+14155550404'));
    responses.push(await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code: wrong(delivered[2]) } }));
    responses.push(await t.run(VerifyOtp, { input: { userId, channel: 'SMS', code: delivered[2] } }));

    // Codes handed back to the caller are never written to the log at all.
    const r = await t.run(SendOtp, { input: { userId, channel: 'SMS', returnCode: true } });
    returned.push((r.sendOtp as { issuedCode: string }).issuedCode);
    const s = await t.run(SetEmail, { input: { userId, email: 'other@example.com', verification: 'RETURN_CODE' } });
    returned.push((s.setEmail as { issuedCode: string }).issuedCode);

    const events = await t.app.database.client.event.findMany({ where: { userId } });
    expect(events.length).toBeGreaterThanOrEqual(6);
    const eventText = JSON.stringify(events);
    const responseText = JSON.stringify(responses);
    for (const code of [...delivered, ...returned]) {
      expect(eventText).not.toMatch(standalone(code));
      expect(responseText).not.toMatch(standalone(code));
    }
    for (const code of delivered) {
      const mentioning = lines.filter((l) => standalone(code).test(l));
      expect(mentioning.length).toBeGreaterThan(0);
      for (const line of mentioning) expect(isConsoleSenderLine(line)).toBe(true);
    }
    for (const code of returned) expect(lines.filter((l) => standalone(code).test(l))).toEqual([]);
  });
});
