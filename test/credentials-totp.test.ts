/**
 * TOTP and backup codes through the GraphQL API, on a hand-moved clock:
 * registration, RFC 6238 vectors, oathtool interoperability, window edges,
 * replay refusal, backup codes (consumed once, also under concurrency),
 * removal, events, and secrets absent from the database in the clear.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../src/kernel/clock.js';
import { encryptSecret } from '../src/kernel/crypto.js';
import { graphql } from './gql/index.js';
import { createTestApp, ENCRYPTION_KEY, type TestApp } from './helpers/app.js';
import { needTool } from './helpers/system-tools.js';
import { oathtool, oathtoolTotp, referenceTotp, RFC6238_SECRET, RFC6238_VECTORS } from './helpers/totp.js';

const CreateUser = graphql(`
  mutation TotpCreateUser($input: CreateUserInput!) {
    createUser(input: $input) { __typename ... on CreateUserSuccess { user { id } } }
  }
`);

const StartTotp = graphql(`
  mutation StartTotpRegistration($input: StartTotpRegistrationInput!) {
    startTotpRegistration(input: $input) {
      __typename
      ... on StartTotpRegistrationSuccess { secret uri qrCode authMethod { id kind verified } }
      ... on Error { code message }
    }
  }
`);

const VerifyTotpRegistration = graphql(`
  mutation VerifyTotpRegistration($input: VerifyTotpRegistrationInput!) {
    verifyTotpRegistration(input: $input) {
      __typename
      ... on VerifyTotpRegistrationSuccess { authMethod { id verified lastUsedAt } user { mfaEnabled authMethods { kind verified } } }
      ... on IncorrectCodeError { code codeAttemptsLeft attemptsBeforeLock }
      ... on Error { code message }
    }
  }
`);

const VerifyTotp = graphql(`
  mutation VerifyTotp($input: VerifyTotpInput!) {
    verifyTotp(input: $input) {
      __typename
      ... on VerifyTotpSuccess { kind backupCodesRemaining user { id } }
      ... on IncorrectCodeError { code codeAttemptsLeft attemptsBeforeLock }
      ... on CodeAlreadyUsedError { reason }
      ... on Error { code message }
    }
  }
`);

const GenerateBackupCodes = graphql(`
  mutation GenerateBackupCodes($input: GenerateBackupCodesInput!) {
    generateBackupCodes(input: $input) {
      __typename
      ... on GenerateBackupCodesSuccess { codes authMethod { id kind remaining } }
      ... on Error { code message }
    }
  }
`);

const RemoveMethod = graphql(`
  mutation TotpRemoveAuthMethod($input: RemoveAuthMethodInput!) {
    removeAuthMethod(input: $input) {
      __typename
      ... on RemoveAuthMethodSuccess { kind user { mfaEnabled } }
      ... on Error { code }
    }
  }
`);

const Events = graphql(`
  query TotpEvents($userId: ID!) {
    events(first: 100, userId: $userId) { edges { node { type data } } }
  }
`);

const TotpNode = graphql(`
  query TotpNode($id: ID!) { node(id: $id) { ... on TotpMethod { verified verifiedAt lastUsedAt createdAt } } }
`);

const Deactivate = graphql(`
  mutation TotpDeactivate($id: ID!) { deactivateUser(input: { userId: $id }) { __typename } }
`);

const clock = manualClock(new Date('2026-03-01T12:00:10Z'));
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ clock, env: { PORTCULLIS_TOTP_ISSUER: 'Acme', PORTCULLIS_LOCKOUT_CODE_ATTEMPTS: '50' } });
});
afterAll(() => t.close());

let n = 0;
async function newUser() {
  const data = await t.run(CreateUser, { input: { email: `totp${++n}@example.com` } });
  if (data.createUser.__typename !== 'CreateUserSuccess') throw new Error('createUser failed');
  return data.createUser.user.id;
}

async function start(userId: string) {
  const r = (await t.run(StartTotp, { input: { userId } })).startTotpRegistration;
  if (r.__typename !== 'StartTotpRegistrationSuccess') throw new Error(JSON.stringify(r));
  return r;
}

const verifyTotp = async (userId: string, code: string) => (await t.run(VerifyTotp, { input: { userId, code } })).verifyTotp;

/** A user with an active TOTP authenticator; returns the secret. Leaves the clock one step later. */
async function enrolled() {
  const userId = await newUser();
  const { secret } = await start(userId);
  const r = await t.run(VerifyTotpRegistration, { input: { userId, code: referenceTotp(secret, clock.now()) } });
  expect(r.verifyTotpRegistration.__typename).toBe('VerifyTotpRegistrationSuccess');
  clock.advance(30_000);
  return { userId, secret };
}

describe('TOTP registration', () => {
  it('returns the secret, an otpauth URI and an SVG QR code, then activates with a first valid code', async () => {
    const userId = await newUser();
    const r = await start(userId);
    expect(r.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(r.uri).toBe(`otpauth://totp/Acme:totp${n}%40example.com?secret=${r.secret}&period=30&digits=6&algorithm=SHA1&issuer=Acme`);
    expect(r.qrCode).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(Buffer.from(r.qrCode.split(',')[1], 'base64').toString()).toContain('<svg');
    expect(r.authMethod).toMatchObject({ kind: 'TOTP', verified: false });
    expect(r.authMethod.id).toMatch(/^am_totp_/);

    const wrong = await t.run(VerifyTotpRegistration, { input: { userId, code: '000000' === referenceTotp(r.secret, clock.now()) ? '111111' : '000000' } });
    // A TOTP code spends the account's lockout budget; it is no issued code with attempts of its own.
    expect(wrong.verifyTotpRegistration).toMatchObject({ __typename: 'IncorrectCodeError', code: 'INCORRECT_CODE', codeAttemptsLeft: null, attemptsBeforeLock: 49 });
    const ok = await t.run(VerifyTotpRegistration, { input: { userId, code: referenceTotp(r.secret, clock.now()) } });
    expect(ok.verifyTotpRegistration).toMatchObject({
      __typename: 'VerifyTotpRegistrationSuccess',
      authMethod: { id: r.authMethod.id, verified: true },
      user: { mfaEnabled: true, authMethods: [{ kind: 'TOTP', verified: true }] },
    });
    // The code that activated it cannot be replayed for a sign-in.
    expect(await verifyTotp(userId, referenceTotp(r.secret, clock.now()))).toMatchObject({ __typename: 'CodeAlreadyUsedError' });
    // One TOTP per user.
    expect((await t.run(StartTotp, { input: { userId } })).startTotpRegistration).toMatchObject({ __typename: 'InvalidStateError' });
    const types = (await t.run(Events, { userId })).events.edges.map((e) => e.node.type);
    expect(types).toContain('USER_TOTP_ADDED');
  });

  it('stamps verifiedAt when the registration is confirmed: not when it starts, nor when a code is used later', async () => {
    const userId = await newUser();
    const started = clock.now();
    const { secret, authMethod } = await start(userId);
    expect((await t.run(TotpNode, { id: authMethod.id })).node).toEqual({ verified: false, verifiedAt: null, lastUsedAt: null, createdAt: started.toISOString() });

    clock.advance(95_000);
    const confirmed = clock.now();
    const ok = await t.run(VerifyTotpRegistration, { input: { userId, code: referenceTotp(secret, confirmed) } });
    expect(ok.verifyTotpRegistration.__typename).toBe('VerifyTotpRegistrationSuccess');

    clock.advance(120_000);
    expect(await verifyTotp(userId, referenceTotp(secret, clock.now()))).toMatchObject({ __typename: 'VerifyTotpSuccess', kind: 'TOTP' });
    expect((await t.run(TotpNode, { id: authMethod.id })).node).toEqual({
      verified: true,
      verifiedAt: confirmed.toISOString(),
      lastUsedAt: clock.now().toISOString(),
      createdAt: started.toISOString(),
    });
  });

  it('replaces a pending registration when started again: the first secret no longer works', async () => {
    const userId = await newUser();
    const first = await start(userId);
    const second = await start(userId);
    expect(second.secret).not.toBe(first.secret);
    expect(second.authMethod.id).toBe(first.authMethod.id);
    const stale = await t.run(VerifyTotpRegistration, { input: { userId, code: referenceTotp(first.secret, clock.now()) } });
    expect(stale.verifyTotpRegistration).toMatchObject({ __typename: 'IncorrectCodeError' });
    const ok = await t.run(VerifyTotpRegistration, { input: { userId, code: referenceTotp(second.secret, clock.now()) } });
    expect(ok.verifyTotpRegistration.__typename).toBe('VerifyTotpRegistrationSuccess');
  });

  it('stores the secret encrypted: neither the base32 secret nor its bytes are in the row', async () => {
    const userId = await newUser();
    const { secret, authMethod } = await start(userId);
    const row = await t.app.database.client.authMethod.findUniqueOrThrow({ where: { id: authMethod.id } });
    expect(row.secret).toMatch(/^v1\./);
    const dump = JSON.stringify(row);
    expect(dump).not.toContain(secret);
    expect(dump.toUpperCase()).not.toContain(secret);
    expect(dump).not.toContain(Buffer.from(secret).toString('base64'));
    const events = JSON.stringify((await t.run(Events, { userId })).events);
    expect(events).not.toContain(secret);
  });
});

describe('verifyTotp', () => {
  it('accepts codes of the RFC 6238 test vectors (SHA1 seed "12345678901234567890")', async () => {
    const { userId } = await enrolled();
    const method = await t.app.database.client.authMethod.findUniqueOrThrow({ where: { slot: `${userId}:TOTP` } });
    // Plant the RFC seed, encrypted as the gateway stores secrets, and restart the replay counter.
    await t.app.database.client.authMethod.update({
      where: { id: method.id },
      data: { secret: encryptSecret(Buffer.from(ENCRYPTION_KEY, 'base64'), RFC6238_SECRET, method.id), counter: null },
    });
    const saved = clock.now();
    try {
      for (const [seconds, code8] of RFC6238_VECTORS) {
        clock.set(new Date(seconds * 1000));
        expect(await verifyTotp(userId, code8.slice(2))).toMatchObject({ __typename: 'VerifyTotpSuccess', kind: 'TOTP' });
      }
    } finally {
      clock.set(saved);
    }
  });

  it('accepts codes computed by oathtool (an independent implementation)', async (ctx) => {
    needTool(ctx, oathtool);
    const { userId, secret } = await enrolled();
    expect(await verifyTotp(userId, oathtoolTotp(secret, clock.now()))).toMatchObject({ __typename: 'VerifyTotpSuccess', kind: 'TOTP' });
  });

  it('accepts one step either side and refuses two; a step accepted once is refused after (replay)', async () => {
    const { userId, secret } = await enrolled();
    // Exactly at the start of a step: the previous step has just ended.
    const stepStart = Math.ceil(clock.now().getTime() / 30_000) * 30_000 + 30_000;
    clock.set(new Date(stepStart));
    const at = (deltaSteps: number) => referenceTotp(secret, new Date(stepStart + deltaSteps * 30_000));
    expect(await verifyTotp(userId, at(-2))).toMatchObject({ __typename: 'IncorrectCodeError', codeAttemptsLeft: null, attemptsBeforeLock: 49 });
    expect(await verifyTotp(userId, at(+2))).toMatchObject({ __typename: 'IncorrectCodeError', codeAttemptsLeft: null, attemptsBeforeLock: 48 });
    expect(await verifyTotp(userId, at(-1))).toMatchObject({ __typename: 'VerifyTotpSuccess', kind: 'TOTP' });
    // The same step again: refused, saying that it is the time step that was used, and that the next code will do.
    const stepUsed = { __typename: 'CodeAlreadyUsedError', code: 'CODE_ALREADY_USED', reason: 'STEP_ALREADY_USED', message: 'A code from this or a later time step was already accepted; wait for the next code.' };
    expect(await verifyTotp(userId, at(-1))).toEqual(stepUsed);
    // Last millisecond of the step: the same window.
    clock.set(new Date(stepStart + 29_999));
    expect(await verifyTotp(userId, at(0))).toMatchObject({ __typename: 'VerifyTotpSuccess' });
    expect(await verifyTotp(userId, at(+1))).toMatchObject({ __typename: 'VerifyTotpSuccess' });
    // An older step than the last accepted one is refused too, for the same reason.
    expect(await verifyTotp(userId, at(0))).toEqual(stepUsed);
    // One step later, +1 is the current step and was already used; +2 is now within the window.
    clock.set(new Date(stepStart + 30_000));
    expect(await verifyTotp(userId, at(+1))).toEqual(stepUsed);
    expect(await verifyTotp(userId, at(+2))).toMatchObject({ __typename: 'VerifyTotpSuccess' });
    clock.advance(60_000);
  });

  it('lets exactly one of concurrent requests with the same code succeed', async () => {
    const { userId, secret } = await enrolled();
    const code = referenceTotp(secret, clock.now());
    const results = await Promise.all(Array.from({ length: 6 }, () => verifyTotp(userId, code)));
    const kinds = results.map((r) => r.__typename);
    expect(kinds.filter((k) => k === 'VerifyTotpSuccess')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'CodeAlreadyUsedError')).toHaveLength(5);
    clock.advance(30_000);
  });

  it('answers NoTotpError, UserNotFoundError and UserInactiveError', async () => {
    const plain = await newUser();
    expect(await verifyTotp(plain, '123456')).toMatchObject({ __typename: 'NoTotpError', code: 'NO_TOTP' });
    // A pending registration is not a TOTP yet.
    await start(plain);
    expect(await verifyTotp(plain, '123456')).toMatchObject({ __typename: 'NoTotpError' });
    expect(await verifyTotp('usr_01nobody', '123456')).toMatchObject({ __typename: 'UserNotFoundError' });
    const { userId, secret } = await enrolled();
    await t.run(Deactivate, { id: userId });
    expect(await verifyTotp(userId, referenceTotp(secret, clock.now()))).toMatchObject({ __typename: 'UserInactiveError' });
  });

  it('records successes and failures without codes', async () => {
    const { userId, secret } = await enrolled();
    const good = referenceTotp(secret, clock.now());
    const bad = good === '999999' ? '999998' : '999999';
    await verifyTotp(userId, bad);
    await verifyTotp(userId, good);
    const { events } = await t.run(Events, { userId });
    const types = events.edges.map((e) => e.node.type);
    expect(types.slice(-2)).toEqual(['USER_TOTP_VERIFICATION_FAILED', 'USER_TOTP_VERIFIED']);
    const dump = JSON.stringify(events);
    for (const s of [good, bad, secret]) expect(dump).not.toContain(s);
    clock.advance(30_000);
  });
});

describe('backup codes', () => {
  it('generates N readable codes once, stores only hashes, and each works exactly once via verifyTotp', async () => {
    const { userId } = await enrolled();
    const g = (await t.run(GenerateBackupCodes, { input: { userId } })).generateBackupCodes;
    if (g.__typename !== 'GenerateBackupCodesSuccess') throw new Error(JSON.stringify(g));
    expect(g.codes).toHaveLength(10);
    for (const c of g.codes) expect(c).toMatch(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
    expect(g.authMethod).toMatchObject({ kind: 'BACKUP_CODES', remaining: 10 });

    const rows = await t.app.database.client.backupCode.findMany({ where: { userId } });
    expect(rows).toHaveLength(10);
    const dump = JSON.stringify(rows);
    for (const c of g.codes) {
      expect(dump).not.toContain(c);
      expect(dump).not.toContain(c.replace('-', ''));
    }

    expect(await verifyTotp(userId, g.codes[0])).toEqual({ __typename: 'VerifyTotpSuccess', kind: 'BACKUP_CODES', backupCodesRemaining: 9, user: { id: userId } });
    // A backup code is single-use itself: no time step is involved.
    expect(await verifyTotp(userId, g.codes[0])).toEqual({ __typename: 'CodeAlreadyUsedError', code: 'CODE_ALREADY_USED', reason: 'CODE_ALREADY_USED', message: 'The code was already used.' });
    // Typed loosely: lower case, no dash.
    expect(await verifyTotp(userId, g.codes[1].toLowerCase().replace('-', ''))).toMatchObject({ kind: 'BACKUP_CODES', backupCodesRemaining: 8 });
    const types = (await t.run(Events, { userId })).events.edges.map((e) => e.node.type);
    expect(types).toEqual(expect.arrayContaining(['USER_BACKUP_CODES_GENERATED', 'USER_BACKUP_CODE_USED']));
    const events = JSON.stringify((await t.run(Events, { userId })).events);
    for (const c of g.codes) expect(events).not.toContain(c);
  });

  it('lets exactly one of concurrent requests with the same backup code succeed', async () => {
    const { userId } = await enrolled();
    const g = (await t.run(GenerateBackupCodes, { input: { userId } })).generateBackupCodes;
    if (g.__typename !== 'GenerateBackupCodesSuccess') throw new Error('no codes');
    const results = await Promise.all(Array.from({ length: 8 }, () => verifyTotp(userId, g.codes[3])));
    const kinds = results.map((r) => r.__typename);
    expect(kinds.filter((k) => k === 'VerifyTotpSuccess')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'CodeAlreadyUsedError')).toHaveLength(7);
    const left = await t.app.database.client.backupCode.count({ where: { userId, usedAt: null } });
    expect(left).toBe(9);
  });

  it('invalidates earlier codes when new ones are generated, and works without a TOTP', async () => {
    const userId = await newUser();
    const first = (await t.run(GenerateBackupCodes, { input: { userId } })).generateBackupCodes;
    const second = (await t.run(GenerateBackupCodes, { input: { userId } })).generateBackupCodes;
    if (first.__typename !== 'GenerateBackupCodesSuccess' || second.__typename !== 'GenerateBackupCodesSuccess') throw new Error('no codes');
    expect(second.authMethod.id).toBe(first.authMethod.id);
    expect(await verifyTotp(userId, first.codes[0])).toMatchObject({ __typename: 'IncorrectCodeError' });
    expect(await verifyTotp(userId, second.codes[0])).toMatchObject({ __typename: 'VerifyTotpSuccess', kind: 'BACKUP_CODES', backupCodesRemaining: 9 });
  });
});

describe('removeAuthMethod', () => {
  it('removes TOTP (user.totp_removed) and backup codes with their rows (user.backup_codes_removed)', async () => {
    const { userId, secret } = await enrolled();
    const g = (await t.run(GenerateBackupCodes, { input: { userId } })).generateBackupCodes;
    if (g.__typename !== 'GenerateBackupCodesSuccess') throw new Error('no codes');
    const totp = await t.app.database.client.authMethod.findUniqueOrThrow({ where: { slot: `${userId}:TOTP` } });
    expect((await t.run(RemoveMethod, { input: { id: totp.id } })).removeAuthMethod).toEqual({ __typename: 'RemoveAuthMethodSuccess', kind: 'TOTP', user: { mfaEnabled: false } });
    // Backup codes alone still work; a TOTP code no longer does.
    expect(await verifyTotp(userId, referenceTotp(secret, clock.now()))).toMatchObject({ __typename: 'IncorrectCodeError' });
    expect((await t.run(RemoveMethod, { input: { id: g.authMethod.id } })).removeAuthMethod).toMatchObject({ kind: 'BACKUP_CODES' });
    expect(await t.app.database.client.backupCode.count({ where: { userId } })).toBe(0);
    expect(await verifyTotp(userId, g.codes[0])).toMatchObject({ __typename: 'NoTotpError' });
    const types = (await t.run(Events, { userId })).events.edges.map((e) => e.node.type);
    expect(types).toEqual(expect.arrayContaining(['USER_TOTP_REMOVED', 'USER_BACKUP_CODES_REMOVED']));
  });
});
