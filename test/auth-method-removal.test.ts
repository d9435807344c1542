/**
 * One removal path: removeAuthMethod removes every kind of auth method, with
 * what depends on it, and the removeOtpSms/removeOtpEmail shortcuts remove a
 * factor the same way. The event has one shape whichever path made it, and a
 * sign-in code the factor sent before its removal no longer works, on both
 * paths (it used to stay valid after removeAuthMethod).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { seed } from './helpers/seed.js';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { softwareAuthenticator } from './helpers/webauthn-authenticator.js';
import { ORIGIN, VerifyRegistration, webauthnEnv, webauthnSteps } from './helpers/webauthn-operations.js';

const RemoveAuthMethod = graphql(`
  mutation RemovalGeneric($input: RemoveAuthMethodInput!) {
    removeAuthMethod(input: $input) { __typename ... on RemoveAuthMethodSuccess { removedAuthMethodId kind } ... on Error { code } }
  }
`);
const RemoveOtpEmail = graphql(`
  mutation RemovalEmail($input: RemoveOtpEmailInput!) {
    removeOtpEmail(input: $input) { __typename ... on RemoveOtpEmailSuccess { removedAuthMethodId } ... on Error { code } }
  }
`);
const Methods = graphql(`
  query RemovalMethods($id: ID!) {
    user(id: $id) { hasPassword passwordMustChange passwordChangedAt mfaEnabled authMethods { id kind } }
  }
`);
const RemovalLog = graphql(`
  query RemovalLog($userId: ID!) {
    events(first: 50, userId: $userId, types: [
      USER_PASSWORD_REMOVED, USER_TOTP_REMOVED, USER_BACKUP_CODES_REMOVED, USER_OTP_SMS_REMOVED, USER_OTP_EMAIL_REMOVED, USER_PASSKEY_REMOVED
    ]) { edges { node { type data } } }
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
const webauthn = webauthnSteps(() => t);
beforeAll(async () => {
  t = await createTestApp({ env: webauthnEnv });
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

describe('removeAuthMethod', () => {
  /** A user holding one auth method of every kind, the password flagged to change. */
  async function userWithEveryKind() {
    const user = await seed(t).user({ password: 'every kind of factor', phone: `+1415555${String(4000 + ++n)}` }).withTotp().withBackupCodes().withOtpSms().withOtpEmail();
    await t.app.services.passwords.setPassword(user.id, { password: 'every kind of factor', mustChange: true }, systemMeta);
    expect((await webauthn.register(user.id, softwareAuthenticator({ origin: ORIGIN }))).__typename).toBe('VerifyPasskeyRegistrationSuccess');
    const options = await webauthn.startRegistration(user.id, 'U2F');
    const u2f = await t.run(VerifyRegistration, { input: { userId: user.id, response: softwareAuthenticator({ origin: ORIGIN, userVerified: false }).register(options) } });
    expect(u2f.verifyPasskeyRegistration.__typename).toBe('VerifyPasskeyRegistrationSuccess');
    return user;
  }

  it('removes every kind, with what depends on it, and records that kind\'s removal event', async () => {
    const user = await userWithEveryKind();
    const before = (await t.run(Methods, { id: user.id })).user!;
    expect(before).toMatchObject({ hasPassword: true, passwordMustChange: true, mfaEnabled: true });
    expect(before.passwordChangedAt).not.toBeNull();
    const methods = before.authMethods;
    expect(methods.map((m) => m.kind).sort()).toEqual(['BACKUP_CODES', 'OTP_EMAIL', 'OTP_SMS', 'PASSKEY', 'PASSWORD', 'TOTP', 'U2F']);

    for (const method of methods) {
      const removed = await t.run(RemoveAuthMethod, { input: { id: method.id } });
      expect(removed.removeAuthMethod).toEqual({ __typename: 'RemoveAuthMethodSuccess', removedAuthMethodId: method.id, kind: method.kind });
    }

    const after = (await t.run(Methods, { id: user.id })).user!;
    // The password's facts on the user went with it; no second factor is left.
    expect(after).toEqual({ hasPassword: false, passwordMustChange: false, passwordChangedAt: null, mfaEnabled: false, authMethods: [] });
    expect(await t.app.database.client.backupCode.count({ where: { userId: user.id } })).toBe(0);

    const log = (await t.run(RemovalLog, { userId: user.id })).events.edges.map((e) => e.node);
    const typeOf: Record<string, string> = {
      PASSWORD: 'USER_PASSWORD_REMOVED',
      TOTP: 'USER_TOTP_REMOVED',
      BACKUP_CODES: 'USER_BACKUP_CODES_REMOVED',
      OTP_SMS: 'USER_OTP_SMS_REMOVED',
      OTP_EMAIL: 'USER_OTP_EMAIL_REMOVED',
      PASSKEY: 'USER_PASSKEY_REMOVED',
      U2F: 'USER_PASSKEY_REMOVED',
    };
    expect(log).toEqual(methods.map((m) => ({ type: typeOf[m.kind], data: { authMethodId: m.id, kind: m.kind } })));

    // Gone is gone: a second removal is NOT_FOUND, as is an id that never was.
    expect((await t.run(RemoveAuthMethod, { input: { id: methods[0].id } })).removeAuthMethod).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect((await t.run(RemoveAuthMethod, { input: { id: 'am_totp_missing' } })).removeAuthMethod).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
  });

  it('removeOtpEmail is the same removal as removeAuthMethod on the OTP_EMAIL factor', async () => {
    const viaShortcut = await seed(t).user().withOtpEmail();
    const viaGeneric = await seed(t).user().withOtpEmail();
    const idOf = async (userId: string) => (await t.app.database.client.authMethod.findFirstOrThrow({ where: { userId, kind: 'OTP_EMAIL' } })).id;
    const shortcutId = await idOf(viaShortcut.id);
    const genericId = await idOf(viaGeneric.id);

    expect((await t.run(RemoveOtpEmail, { input: { userId: viaShortcut.id } })).removeOtpEmail).toEqual({ __typename: 'RemoveOtpEmailSuccess', removedAuthMethodId: shortcutId });
    expect((await t.run(RemoveAuthMethod, { input: { id: genericId } })).removeAuthMethod).toMatchObject({ __typename: 'RemoveAuthMethodSuccess', kind: 'OTP_EMAIL' });
    for (const [userId, id] of [[viaShortcut.id, shortcutId], [viaGeneric.id, genericId]]) {
      const log = (await t.run(RemovalLog, { userId })).events.edges.map((e) => e.node);
      expect(log).toEqual([{ type: 'USER_OTP_EMAIL_REMOVED', data: { authMethodId: id, kind: 'OTP_EMAIL' } }]);
    }
    // Nothing left to remove: the shortcut says so.
    expect((await t.run(RemoveOtpEmail, { input: { userId: viaShortcut.id } })).removeOtpEmail).toEqual({ __typename: 'InvalidStateError', code: 'INVALID_STATE' });
  });
});
