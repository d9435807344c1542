/**
 * Threat: a signed-in end user acting on someone else. With an access token a
 * user may run the self-service mutations on their own user only; every
 * mutation that names a user (input.userId) must answer FORBIDDEN for another
 * user's id, and every query but `me` must be out of reach.
 *
 * The test walks the schema itself, so a mutation added later is covered
 * without editing this file; it must only be classified below as self-service
 * or admin-only (an unclassified one fails the test).
 */
import {
  getNamedType,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLScalarType,
  type GraphQLOutputType,
  isCompositeType,
  parse,
  type GraphQLArgument,
  type GraphQLInputType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemMeta } from '../src/kernel/events/outbox.js';
import { manualClock } from '../src/kernel/clock.js';
import { totpCode, totpStep } from '../src/modules/totp/service.js';
import { loadSchema } from '../src/graphql/index.js';
import { publicOperations } from '../src/server/auth.js';
import { graphql } from './gql/index.js';
import { BOOTSTRAP_KEY, createTestApp, type TestApp } from './helpers/app.js';

const schema = await loadSchema();

/** Mutations a user may run on themselves with an access token. */
const SELF_SERVICE = new Set([
  'changePassword',
  'setEmail',
  'verifyEmail',
  'resendEmailCode',
  'setPhone',
  'verifyPhone',
  'resendPhoneCode',
  'startTotpRegistration',
  'verifyTotpRegistration',
  'generateBackupCodes',
  'addOtpSms',
  'removeOtpSms',
  'addOtpEmail',
  'removeOtpEmail',
  'sendOtp',
  'verifyOtp',
  'revokeAllSessions',
  'startPasskeyRegistration',
  'verifyPasskeyRegistration',
  // Its unsafe part only: public and private need an API key (test/metadata.security.test.ts).
  'updateUserMetadata',
  'linkIdpIntent',
  'createPersonalAccessToken',
]);

/** Mutations that name a user but only management callers may run. */
const ADMIN_ONLY = new Set([
  'updateUser',
  'deleteUser',
  'lockUser',
  'unlockUser',
  'deactivateUser',
  'reactivateUser',
  'setPassword',
  'verifyPassword',
  'requestPasswordReset',
  'verifyTotp',
  'createPasskeyRegistrationLink',
  'assignUserRoles',
  'removeUserRoles',
  'addOrganizationMember',
  'removeOrganizationMember',
  'updateOrganizationMemberRoles',
  'verifyOrganizationDomain',
  'addIdpLink',
]);

/**
 * Public mutations: anyone may call them, signed in or not, because a secret in
 * the input (a registration code, a WebAuthn challenge) is what authorizes them.
 * They must be registered as public root fields.
 */
const PUBLIC = new Set(['startPasskeyAuthentication', 'startPasskeyRegistrationWithCode', 'verifyPasskeyRegistrationWithCode', 'startIdpIntent']);

/** Queries an end user may call. */
const USER_QUERIES = new Set(['me']);

const RemoveAuthMethod = graphql(`
  mutation SelfRemoveAuthMethod($input: RemoveAuthMethodInput!) {
    removeAuthMethod(input: $input) { __typename ... on RemoveAuthMethodSuccess { removedAuthMethodId kind } ... on Error { code } }
  }
`);

const PASSWORD = 'a perfectly long password';
const clock = manualClock();
let t: TestApp;
let me: { id: string };
let other: { id: string };

beforeAll(async () => {
  t = await createTestApp({
    clock,
    env: { PORTCULLIS_LOCKOUT_PASSWORD_ATTEMPTS: '0', PORTCULLIS_LOCKOUT_CODE_ATTEMPTS: '0' },
  });
  const s = t.app.services;
  me = await s.users.createUser({ email: 'self@example.com' }, systemMeta);
  other = await s.users.createUser({ email: 'other@example.com' }, systemMeta);
  await s.passwords.setPassword(me.id, { password: PASSWORD }, systemMeta);
});
afterAll(() => t?.close());

/** A fresh access token for `me` (some mutations revoke sessions). */
async function accessToken(): Promise<string> {
  const tokens = await t.app.services.sessions.createSession(me.id, { name: 'test' }, systemMeta);
  return tokens.accessToken;
}

/** A syntactically valid value for an input type: authorization runs before any resolver looks at it. */
function sample(type: GraphQLInputType, userId: string, field = ''): unknown {
  if (type instanceof GraphQLNonNull) return sample(type.ofType, userId, field);
  if (type instanceof GraphQLList) return [sample(type.ofType, userId, field)];
  if (type instanceof GraphQLInputObjectType) {
    const out: Record<string, unknown> = {};
    for (const f of Object.values(type.getFields())) {
      if (f.name === 'userId') out.userId = userId;
      else if (f.type instanceof GraphQLNonNull) out[f.name] = sample(f.type, userId, f.name);
    }
    return out;
  }
  if (type instanceof GraphQLEnumType) return type.getValues()[0].name;
  const scalar = type as GraphQLScalarType;
  if (scalar.name === 'Int' || scalar.name === 'Float') return 1;
  if (scalar.name === 'Boolean') return false;
  if (scalar.name === 'DateTime') return new Date().toISOString();
  if (scalar.name === 'JSON') return {};
  return /ids?$/i.test(field) ? userId : 'x';
}

function argsFor(args: readonly GraphQLArgument[], userId: string) {
  const vars: Record<string, unknown> = {};
  for (const a of args) if (a.type instanceof GraphQLNonNull || a.name === 'userId') vars[a.name] = a.name === 'userId' ? userId : sample(a.type, userId, a.name);
  return vars;
}

function operation(kind: 'mutation' | 'query', field: string, args: readonly GraphQLArgument[], vars: Record<string, unknown>, type: GraphQLOutputType) {
  const used = args.filter((a) => a.name in vars);
  const decl = used.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
  const call = used.map((a) => `${a.name}: $${a.name}`).join(', ');
  // Scalar answers (can, effectivePermissions) take no selection.
  const selection = isCompositeType(getNamedType(type)) ? ' { __typename }' : '';
  return parse(`${kind} ${decl ? `(${decl})` : ''} { ${field}${call ? `(${call})` : ''}${selection} }`);
}

async function call(kind: 'mutation' | 'query', name: string, userId: string, token: string) {
  const type = kind === 'mutation' ? schema.getMutationType()! : schema.getQueryType()!;
  const field = type.getFields()[name];
  const vars = argsFor(field.args, userId);
  const result = await t.exec(operation(kind, name, field.args, vars, field.type) as never, vars as never, { token });
  return result.errors?.map((e) => e.extensions?.code) ?? [];
}

const mutationsNamingAUser = () =>
  Object.values(schema.getMutationType()!.getFields())
    .filter((f) => {
      const input = f.args.find((a) => a.name === 'input');
      const inputType = input && getNamedType(input.type);
      return inputType instanceof GraphQLInputObjectType && 'userId' in inputType.getFields();
    })
    .map((f) => f.name)
    .sort();

describe('self-service authorization', () => {
  it('classifies every mutation that names a user as self-service or admin-only', () => {
    const names = mutationsNamingAUser();
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((n) => [SELF_SERVICE, ADMIN_ONLY, PUBLIC].filter((set) => set.has(n)).length !== 1)).toEqual([]);
    const marked = publicOperations(schema);
    expect([...PUBLIC].filter((n) => !marked.has(n))).toEqual([]);
  });

  it('answers FORBIDDEN to a user naming another user, for every such mutation', async () => {
    const token = await accessToken();
    const allowed: string[] = [];
    for (const name of mutationsNamingAUser().filter((n) => !PUBLIC.has(n))) {
      const codes = await call('mutation', name, other.id, token);
      if (!codes.includes('FORBIDDEN')) allowed.push(`${name}: ${JSON.stringify(codes)}`);
    }
    expect(allowed).toEqual([]);
  });

  it('lets a user run the self-service mutations on their own user, and no admin-only one', async () => {
    const wrong: string[] = [];
    for (const name of mutationsNamingAUser().filter((n) => !PUBLIC.has(n))) {
      const codes = await call('mutation', name, me.id, await accessToken());
      const forbidden = codes.includes('FORBIDDEN') || codes.includes('UNAUTHENTICATED');
      if (SELF_SERVICE.has(name) === forbidden) wrong.push(`${name}: ${JSON.stringify(codes)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('keeps every query but `me` out of an end user\'s reach', async () => {
    const token = await accessToken();
    const reachable: string[] = [];
    for (const name of Object.keys(schema.getQueryType()!.getFields()).sort()) {
      if (USER_QUERIES.has(name)) continue;
      const codes = await call('query', name, other.id, token);
      if (!codes.includes('FORBIDDEN')) reachable.push(`${name}: ${JSON.stringify(codes)}`);
    }
    expect(reachable).toEqual([]);
  });

  it('still lets management callers run them all (API keys are not end users)', async () => {
    const names = mutationsNamingAUser();
    expect(names).toEqual(expect.arrayContaining([...SELF_SERVICE, ...ADMIN_ONLY, ...PUBLIC]));
    const refused: string[] = [];
    for (const name of names) {
      // A fresh user each time: deleteUser, lockUser and the like change the one they act on.
      const target = await t.app.services.users.createUser({}, systemMeta);
      const codes = await call('mutation', name, target.id, BOOTSTRAP_KEY);
      if (codes.length) refused.push(`${name}: ${JSON.stringify(codes)}`);
    }
    expect(refused).toEqual([]);
  });

  it('lets a user remove their own TOTP only with a current code, and nobody else\'s auth method', async () => {
    const s = t.app.services;
    const { secret, authMethodId } = await s.totp.startTotpRegistration(me.id, systemMeta);
    await s.totp.verifyTotpRegistration(me.id, totpCode(secret, totpStep(clock.now())), systemMeta);
    clock.advance(30_000);
    const theirs = await s.totp.startTotpRegistration(other.id, systemMeta);
    const token = await accessToken();

    const probe = await t.run(RemoveAuthMethod, { input: { id: theirs.authMethodId } }, { token });
    expect(probe.removeAuthMethod).toMatchObject({ __typename: 'NotFoundError' });
    const noCode = await t.run(RemoveAuthMethod, { input: { id: authMethodId } }, { token });
    expect(noCode.removeAuthMethod).toMatchObject({ __typename: 'InvalidInputError', code: 'INVALID_INPUT' });
    const wrongCode = await t.run(RemoveAuthMethod, { input: { id: authMethodId, code: '000000' } }, { token });
    expect(wrongCode.removeAuthMethod).toMatchObject({ __typename: 'IncorrectCodeError' });
    const done = await t.run(RemoveAuthMethod, { input: { id: authMethodId, code: totpCode(secret, totpStep(clock.now())) } }, { token });
    expect(done.removeAuthMethod).toEqual({ __typename: 'RemoveAuthMethodSuccess', removedAuthMethodId: authMethodId, kind: 'TOTP' });
    // Management callers need no code.
    const byAdmin = await t.run(RemoveAuthMethod, { input: { id: theirs.authMethodId } });
    expect(byAdmin.removeAuthMethod).toMatchObject({ __typename: 'RemoveAuthMethodSuccess' });
  });
});
