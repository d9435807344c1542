/**
 * Threat: a signed-in user skipping the proof of ownership. With their own
 * access token a user may have codes sent to themselves and check them, but
 * may not have a code returned to them (RETURN_CODE, sendOtp returnCode) or
 * mark an address verified: either would let them claim an address or pass a
 * second factor without receiving anything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { codeSink } from './helpers/code-sink.js';

const SetEmail = graphql(`
  mutation SelfSetEmail($input: SetEmailInput!) {
    setEmail(input: $input) { __typename ... on SetEmailSuccess { issuedCode sentTo } ... on Error { code } }
  }
`);
const VerifyEmail = graphql(`
  mutation SelfVerifyEmail($input: VerifyEmailInput!) { verifyEmail(input: $input) { __typename ... on Error { code } } }
`);
const AddOtpEmail = graphql(`
  mutation SelfAddOtpEmail($input: AddOtpEmailInput!) { addOtpEmail(input: $input) { __typename ... on Error { code } } }
`);
const SendOtp = graphql(`
  mutation SelfSendOtp($input: SendOtpInput!) {
    sendOtp(input: $input) { __typename ... on SendOtpSuccess { issuedCode sentTo } ... on Error { code } }
  }
`);
const VerifyOtp = graphql(`
  mutation SelfVerifyOtp($input: VerifyOtpInput!) { verifyOtp(input: $input) { __typename ... on Error { code } } }
`);

const sink = codeSink();
let t: TestApp;
let userId: string;
let token: string;

beforeAll(async () => {
  t = await createTestApp({ delivery: sink.delivery });
  userId = (await t.app.services.users.createUser({}, systemMeta)).id;
  token = (await t.app.services.sessions.createSession(userId, { name: 'test' }, systemMeta)).accessToken;
});
afterAll(() => t?.close());

const forbidden = (r: { errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> }) => r.errors?.map((e) => e.extensions?.code);

describe('a user acting on their own contacts and OTP factors', () => {
  it('may not have a code returned or an address marked verified', async () => {
    for (const verification of ['RETURN_CODE', 'MARK_VERIFIED'] as const) {
      const r = await t.exec(SetEmail, { input: { userId, email: 'mine@example.com', verification } }, { token });
      expect(forbidden(r)).toEqual(['FORBIDDEN']);
    }
  });

  it('sets their email with a code sent to it, verifies it, adds OTP by email and signs a code in, but gets no code back', async () => {
    const set = await t.run(SetEmail, { input: { userId, email: 'mine@example.com' } }, { token });
    expect(set.setEmail).toMatchObject({ __typename: 'SetEmailSuccess', issuedCode: null, sentTo: 'm•••@example.com' });
    const verified = await t.run(VerifyEmail, { input: { userId, code: sink.lastCode('mine@example.com') } }, { token });
    expect(verified.verifyEmail.__typename).toBe('VerifyEmailSuccess');
    const added = await t.run(AddOtpEmail, { input: { userId } }, { token });
    expect(added.addOtpEmail.__typename).toBe('AddOtpEmailSuccess');

    const returned = await t.exec(SendOtp, { input: { userId, channel: 'EMAIL', returnCode: true } }, { token });
    expect(forbidden(returned)).toEqual(['FORBIDDEN']);
    const sent = await t.run(SendOtp, { input: { userId, channel: 'EMAIL' } }, { token });
    expect(sent.sendOtp).toMatchObject({ __typename: 'SendOtpSuccess', issuedCode: null });
    const ok = await t.run(VerifyOtp, { input: { userId, channel: 'EMAIL', code: sink.lastCode('mine@example.com') } }, { token });
    expect(ok.verifyOtp.__typename).toBe('VerifyOtpSuccess');
  });
});
