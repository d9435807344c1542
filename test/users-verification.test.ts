/**
 * createUser and updateUser take the verification choice of setEmail/setPhone
 * (emailVerification, phoneVerification). Left out, nothing is sent: clients
 * written before the choice existed do not start sending mail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { graphql } from './gql/index.js';
import type { CreateUserInput } from './gql/graphql.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { codeSink } from './helpers/code-sink.js';

const CreateUser = graphql(`
  mutation VerifyingCreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ... on CreateUserSuccess { issuedCode issuedPhoneCode user { id email emailVerified phone phoneVerified } }
      ... on DeliveryFailedError { code channel userId }
      ... on InvalidInputError { code field }
      ... on Error { code message }
    }
  }
`);
const UpdateUser = graphql(`
  mutation VerifyingUpdateUser($input: UpdateUserInput!) {
    updateUser(input: $input) {
      __typename
      ... on UpdateUserSuccess { issuedCode issuedPhoneCode user { id email emailVerified phone phoneVerified } }
      ... on DeliveryFailedError { code channel userId }
      ... on ResendCooldownError { code retryAfter }
      ... on InvalidInputError { code field }
      ... on Error { code message }
    }
  }
`);
const VerifyEmail = graphql(`
  mutation VerifyingVerifyEmail($input: VerifyEmailInput!) {
    verifyEmail(input: $input) { __typename ... on VerifyEmailSuccess { user { emailVerified } } ... on Error { code } }
  }
`);
const VerifyPhone = graphql(`
  mutation VerifyingVerifyPhone($input: VerifyPhoneInput!) {
    verifyPhone(input: $input) { __typename ... on VerifyPhoneSuccess { user { phoneVerified } } ... on Error { code } }
  }
`);
const ResendPhoneCode = graphql(`
  mutation VerifyingResendPhoneCode($input: ResendPhoneCodeInput!) {
    resendPhoneCode(input: $input) { __typename ... on ResendPhoneCodeSuccess { sentTo } ... on Error { code } }
  }
`);
const Events = graphql(`
  query VerifyingEvents($userId: ID!) {
    events(first: 100, userId: $userId) { edges { node { type data } } }
  }
`);

const clock = manualClock();
const sink = codeSink();
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ clock, delivery: sink.delivery });
});
afterAll(async () => t?.close());

async function created(input: CreateUserInput) {
  const r = await t.run(CreateUser, { input });
  if (r.createUser.__typename !== 'CreateUserSuccess') throw new Error(JSON.stringify(r.createUser));
  return r.createUser;
}
const liveCodes = (userId: string) => t.app.database.client.oneTimeCode.count({ where: { userId } });
const eventTypes = async (userId: string) => (await t.run(Events, { userId })).events.edges.map((e) => e.node.type);

describe('createUser', () => {
  it('without a choice stores the addresses unverified and sends nothing, as before', async () => {
    const before = sink.sent.length;
    const user = await created({ email: 'quiet@example.com', phone: '+14155550100' });
    expect(user).toMatchObject({ issuedCode: null, issuedPhoneCode: null, user: { emailVerified: false, phoneVerified: false } });
    expect(sink.sent.length).toBe(before);
    expect(await liveCodes(user.user.id)).toBe(0);
  });

  it('sends the email code with SEND_CODE and returns the phone code with RETURN_CODE; both verify', async () => {
    const before = sink.sent.length;
    const user = await created({ email: 'both@example.com', emailVerification: 'SEND_CODE', phone: '+14155550101', phoneVerification: 'RETURN_CODE' });
    expect(user).toMatchObject({ issuedCode: null, issuedPhoneCode: expect.stringMatching(/^\d{6}$/), user: { emailVerified: false, phoneVerified: false } });
    expect(sink.sent.slice(before)).toEqual([expect.objectContaining({ channel: 'email', to: 'both@example.com', template: 'verify_email' })]);
    const userId = user.user.id;
    const email = await t.run(VerifyEmail, { input: { userId, code: sink.lastCode('both@example.com') } });
    expect(email.verifyEmail).toMatchObject({ __typename: 'VerifyEmailSuccess', user: { emailVerified: true } });
    const phone = await t.run(VerifyPhone, { input: { userId, code: user.issuedPhoneCode! } });
    expect(phone.verifyPhone).toMatchObject({ __typename: 'VerifyPhoneSuccess', user: { phoneVerified: true } });
  });

  it('returns the email code in issuedCode (never in a field named code)', async () => {
    const user = await created({ email: 'ret@example.com', emailVerification: 'RETURN_CODE' });
    expect(user).toMatchObject({ issuedCode: expect.stringMatching(/^\d{6}$/), issuedPhoneCode: null });
    const ok = await t.run(VerifyEmail, { input: { userId: user.user.id, code: user.issuedCode! } });
    expect(ok.verifyEmail.__typename).toBe('VerifyEmailSuccess');
  });

  it('marks addresses verified with MARK_VERIFIED in the creating transaction, with their events', async () => {
    const before = sink.sent.length;
    const user = await created({ email: 'trusted@example.com', emailVerification: 'MARK_VERIFIED', phone: '+14155550102', phoneVerification: 'MARK_VERIFIED' });
    expect(user).toMatchObject({ issuedCode: null, issuedPhoneCode: null, user: { emailVerified: true, phoneVerified: true } });
    expect(sink.sent.length).toBe(before);
    const events = (await t.run(Events, { userId: user.user.id })).events.edges.map((e) => e.node);
    expect(events.map((e) => e.type)).toEqual(['USER_CREATED', 'USER_EMAIL_VERIFIED', 'USER_PHONE_VERIFIED']);
    expect(events[0].data).toMatchObject({ user: { emailVerified: true, phoneVerified: true } });
    expect(events[1].data).toMatchObject({ method: 'admin' });
  });

  it('on a failed delivery keeps the user, unverified and with no live code, and names it in DeliveryFailedError', async () => {
    sink.fail();
    const refusedBefore = sink.refused.length;
    let r;
    try {
      r = await t.run(CreateUser, { input: { email: 'bounce@example.com', emailVerification: 'RETURN_CODE', phone: '+14155550103', phoneVerification: 'SEND_CODE' } });
    } finally {
      sink.fail(false);
    }
    expect(r.createUser).toMatchObject({ __typename: 'DeliveryFailedError', code: 'DELIVERY_FAILED', channel: 'sms', userId: expect.stringMatching(/^usr_/) });
    const userId = (r.createUser as { userId: string }).userId;
    expect(sink.refused.slice(refusedBefore)).toEqual([expect.objectContaining({ channel: 'sms', to: '+14155550103' })]);
    // The sending address goes first: the email code was never issued (the error could not have carried it), and the refused one was withdrawn.
    expect(await liveCodes(userId)).toBe(0);
    const lost = await t.run(VerifyPhone, { input: { userId, code: sink.refused.at(-1)!.params.code } });
    expect(lost.verifyPhone).toMatchObject({ __typename: 'IncorrectCodeError' });
    expect(await eventTypes(userId)).toEqual(['USER_CREATED']);
    const stored = await t.app.database.client.user.findUniqueOrThrow({ where: { id: userId } });
    expect(stored).toMatchObject({ email: 'bounce@example.com', emailVerifiedAt: null, phone: '+14155550103', phoneVerifiedAt: null });
    // The client carries on with the id it was given.
    const resend = await t.run(ResendPhoneCode, { input: { userId } });
    expect(resend.resendPhoneCode).toMatchObject({ __typename: 'ResendPhoneCodeSuccess', sentTo: '+1 ••• ••• 0103' });
    const ok = await t.run(VerifyPhone, { input: { userId, code: sink.lastCode('+14155550103') } });
    expect(ok.verifyPhone.__typename).toBe('VerifyPhoneSuccess');
  });

  it('refuses a choice without its address, naming the field, and creates nothing', async () => {
    const r = await t.run(CreateUser, { input: { email: 'lonely@example.com', phoneVerification: 'SEND_CODE' } });
    expect(r.createUser).toMatchObject({ __typename: 'InvalidInputError', field: 'phoneVerification' });
    const again = await created({ email: 'lonely@example.com' });
    expect(again.user.email).toBe('lonely@example.com');
  });
});

describe('updateUser', () => {
  it('without a choice leaves a changed address unverified and sends nothing, as before', async () => {
    const { user } = await created({ email: 'move@example.com', emailVerification: 'MARK_VERIFIED' });
    const before = sink.sent.length;
    const r = await t.run(UpdateUser, { input: { userId: user.id, email: 'moved@example.com' } });
    expect(r.updateUser).toMatchObject({ __typename: 'UpdateUserSuccess', issuedCode: null, user: { email: 'moved@example.com', emailVerified: false } });
    expect(sink.sent.length).toBe(before);
  });

  it('sends, returns or marks as setEmail/setPhone do', async () => {
    const { user } = await created({});
    const userId = user.id;
    const sent = await t.run(UpdateUser, { input: { userId, email: 'upd@example.com', emailVerification: 'SEND_CODE', phone: '+14155550104', phoneVerification: 'RETURN_CODE' } });
    expect(sent.updateUser).toMatchObject({ __typename: 'UpdateUserSuccess', issuedCode: null, issuedPhoneCode: expect.stringMatching(/^\d{6}$/) });
    const email = await t.run(VerifyEmail, { input: { userId, code: sink.lastCode('upd@example.com') } });
    expect(email.verifyEmail.__typename).toBe('VerifyEmailSuccess');
    const phone = await t.run(VerifyPhone, { input: { userId, code: (sent.updateUser as { issuedPhoneCode: string }).issuedPhoneCode } });
    expect(phone.verifyPhone.__typename).toBe('VerifyPhoneSuccess');

    const marked = await t.run(UpdateUser, { input: { userId, phone: '+14155550105', phoneVerification: 'MARK_VERIFIED' } });
    expect(marked.updateUser).toMatchObject({ issuedPhoneCode: null, user: { phone: '+14155550105', phoneVerified: true, emailVerified: true } });
    expect((await eventTypes(userId)).slice(-2)).toEqual(['USER_UPDATED', 'USER_PHONE_VERIFIED']);
    const updated = (await t.run(Events, { userId })).events.edges.at(-2)!.node.data as { changes: string[] };
    expect(updated.changes).toEqual(['phone']);

    // The address the user already has verified stays verified and gets no code.
    const before = sink.sent.length;
    const same = await t.run(UpdateUser, { input: { userId, email: 'UPD@example.com', emailVerification: 'SEND_CODE' } });
    expect(same.updateUser).toMatchObject({ issuedCode: null, user: { email: 'UPD@example.com', emailVerified: true } });
    expect(sink.sent.length).toBe(before);
  });

  it('keeps the change when the code cannot be delivered, and honours the resend cooldown', async () => {
    const { user } = await created({});
    const userId = user.id;
    sink.fail();
    let r;
    try {
      r = await t.run(UpdateUser, { input: { userId, email: 'fail@example.com', emailVerification: 'SEND_CODE' } });
    } finally {
      sink.fail(false);
    }
    expect(r.updateUser).toMatchObject({ __typename: 'DeliveryFailedError', channel: 'email', userId });
    expect(await liveCodes(userId)).toBe(0);
    const first = await t.run(UpdateUser, { input: { userId, email: 'cool@example.com', emailVerification: 'SEND_CODE' } });
    expect(first.updateUser.__typename).toBe('UpdateUserSuccess');
    const early = await t.run(UpdateUser, { input: { userId, email: 'cooler@example.com', emailVerification: 'SEND_CODE' } });
    expect(early.updateUser).toMatchObject({ __typename: 'ResendCooldownError', retryAfter: new Date(clock.now().getTime() + 30_000).toISOString() });
    const kept = await t.app.database.client.user.findUniqueOrThrow({ where: { id: userId } });
    expect(kept).toMatchObject({ email: 'cooler@example.com', emailVerifiedAt: null });
  });

  it('refuses a choice for an address it does not set', async () => {
    const { user } = await created({ email: 'keep@example.com' });
    const r = await t.run(UpdateUser, { input: { userId: user.id, displayName: 'K', emailVerification: 'MARK_VERIFIED' } });
    expect(r.updateUser).toMatchObject({ __typename: 'InvalidInputError', field: 'emailVerification' });
    const cleared = await t.run(UpdateUser, { input: { userId: user.id, email: null, emailVerification: 'SEND_CODE' } });
    expect(cleared.updateUser).toMatchObject({ __typename: 'InvalidInputError', field: 'emailVerification' });
  });
});
