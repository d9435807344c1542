/**
 * One removal path: removeAuthMethod and the removeOtpSms/removeOtpEmail
 * shortcuts remove a factor the same way. The event has one shape whichever
 * path made it, and a sign-in code the factor sent before its removal no
 * longer works, on both paths (it used to stay valid after removeAuthMethod).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { seed } from './helpers/seed.js';

const RemoveAuthMethod = graphql(`
  mutation RemovalGeneric($input: RemoveAuthMethodInput!) {
    removeAuthMethod(input: $input) { __typename ... on RemoveAuthMethodSuccess { removedAuthMethodId kind } ... on Error { code } }
  }
`);
const RemoveOtpSms = graphql(`
  mutation RemovalSms($input: RemoveOtpSmsInput!) {
    removeOtpSms(input: $input) { __typename ... on RemoveOtpSmsSuccess { removedAuthMethodId } ... on Error { code } }
  }
`);
const SendOtp = graphql(`
  mutation RemovalSendOtp($input: SendOtpInput!) {
    sendOtp(input: $input) { __typename ... on SendOtpSuccess { issuedCode } ... on Error { code } }
  }
`);
const VerifyOtp = graphql(`
  mutation RemovalVerifyOtp($input: VerifyOtpInput!) {
    verifyOtp(input: $input) { __typename ... on Error { code } }
  }
`);
const Events = graphql(`
  query RemovalEvents($userId: ID!) {
    events(first: 20, userId: $userId, types: [USER_OTP_SMS_REMOVED]) { edges { node { type data } } }
  }
`);

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

let n = 0;
/** A user with a verified phone, an SMS factor, and a sign-in code sent to it (returned to the test). */
async function userWithPendingSmsCode() {
  const user = await seed(t).user({ email: null, phone: `+1415555${String(3000 + ++n)}` }).withOtpSms();
  const authMethod = (await t.app.database.client.authMethod.findFirstOrThrow({ where: { userId: user.id, kind: 'OTP_SMS' } }));
  const sent = await t.run(SendOtp, { input: { userId: user.id, channel: 'SMS', returnCode: true } });
  if (sent.sendOtp.__typename !== 'SendOtpSuccess' || !sent.sendOtp.issuedCode) throw new Error(sent.sendOtp.__typename);
  return { userId: user.id, authMethodId: authMethod.id, code: sent.sendOtp.issuedCode };
}

describe('removing an OTP factor', () => {
  it('voids its pending code and records one payload shape, whichever path removes it', async () => {
    const viaGeneric = await userWithPendingSmsCode();
    const viaShortcut = await userWithPendingSmsCode();

    const generic = await t.run(RemoveAuthMethod, { input: { id: viaGeneric.authMethodId } });
    expect(generic.removeAuthMethod).toMatchObject({ __typename: 'RemoveAuthMethodSuccess', kind: 'OTP_SMS' });
    const shortcut = await t.run(RemoveOtpSms, { input: { userId: viaShortcut.userId } });
    expect(shortcut.removeOtpSms).toMatchObject({ __typename: 'RemoveOtpSmsSuccess', removedAuthMethodId: viaShortcut.authMethodId });

    for (const removed of [viaGeneric, viaShortcut]) {
      // The code sent before the removal is gone: the factor is gone, and so is the code.
      const tried = await t.run(VerifyOtp, { input: { userId: removed.userId, channel: 'SMS', code: removed.code } });
      expect(tried.verifyOtp).toMatchObject({ code: 'INVALID_STATE' });
      expect(await t.app.database.client.oneTimeCode.count({ where: { userId: removed.userId, purpose: 'otp_sms' } })).toBe(0);
      const events = (await t.run(Events, { userId: removed.userId })).events.edges.map((e) => e.node);
      expect(events).toEqual([{ type: 'USER_OTP_SMS_REMOVED', data: { authMethodId: removed.authMethodId, kind: 'OTP_SMS' } }]);
    }
  });

  it('keeps the code of a factor that stays', async () => {
    const kept = await userWithPendingSmsCode();
    const tried = await t.run(VerifyOtp, { input: { userId: kept.userId, channel: 'SMS', code: kept.code } });
    expect(tried.verifyOtp.__typename).toBe('VerifyOtpSuccess');
  });
});
