/**
 * National phone numbers: setPhone takes `country`, createUser and updateUser
 * `phoneCountry` (ISO 3166-1 alpha-2); PORTCULLIS_DEFAULT_PHONE_REGION is the
 * fallback. An unknown code is InvalidInputError naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { codeSink } from './helpers/code-sink.js';

const CreateUser = graphql(`
  mutation CountryCreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ... on CreateUserSuccess { user { id phone } }
      ... on InvalidInputError { code field message }
      ... on Error { code message }
    }
  }
`);
const UpdateUser = graphql(`
  mutation CountryUpdateUser($input: UpdateUserInput!) {
    updateUser(input: $input) {
      __typename
      ... on UpdateUserSuccess { user { phone } }
      ... on InvalidInputError { code field }
      ... on Error { code message }
    }
  }
`);
const SetPhone = graphql(`
  mutation CountrySetPhone($input: SetPhoneInput!) {
    setPhone(input: $input) {
      __typename
      ... on SetPhoneSuccess { sentTo user { phone } }
      ... on InvalidInputError { code field }
      ... on Error { code message }
    }
  }
`);

const sink = codeSink();
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ delivery: sink.delivery, env: { PORTCULLIS_DEFAULT_PHONE_REGION: 'US' } });
});
afterAll(async () => t?.close());

async function newUser(): Promise<string> {
  const r = await t.run(CreateUser, { input: {} });
  if (r.createUser.__typename !== 'CreateUserSuccess') throw new Error(r.createUser.__typename);
  return r.createUser.user.id;
}

describe('setPhone country', () => {
  it('reads a national number in the given country, and in the default region without one', async () => {
    const userId = await newUser();
    const berlin = await t.run(SetPhone, { input: { userId, phone: '030 12345678', country: 'DE' } });
    expect(berlin.setPhone).toMatchObject({ __typename: 'SetPhoneSuccess', user: { phone: '+493012345678' }, sentTo: '+49 ••• ••• 5678' });
    expect(sink.sent.at(-1)).toMatchObject({ channel: 'sms', to: '+493012345678' });
    const other = await newUser();
    const local = await t.run(SetPhone, { input: { userId: other, phone: '(415) 555-0142' } });
    expect(local.setPhone).toMatchObject({ user: { phone: '+14155550142' } });
    // A number with +country keeps its own; the code is accepted in any case.
    const international = await t.run(SetPhone, { input: { userId: other, phone: '+44 20 7946 0958', country: 'de', verification: 'RETURN_CODE' } });
    expect(international.setPhone).toMatchObject({ user: { phone: '+442079460958' } });
  });

  it('refuses an unknown country code, naming the field', async () => {
    const userId = await newUser();
    for (const country of ['XX', 'DEU', '']) {
      const r = await t.run(SetPhone, { input: { userId, phone: '030 12345678', country } });
      expect(r.setPhone).toMatchObject({ __typename: 'InvalidInputError', code: 'INVALID_INPUT', field: 'country' });
    }
  });
});

describe('createUser and updateUser phoneCountry', () => {
  it('reads the phone in phoneCountry', async () => {
    const r = await t.run(CreateUser, { input: { phone: '030 12345679', phoneCountry: 'DE' } });
    expect(r.createUser).toMatchObject({ __typename: 'CreateUserSuccess', user: { phone: '+493012345679' } });
    const userId = (r.createUser as { user: { id: string } }).user.id;
    const u = await t.run(UpdateUser, { input: { userId, phone: '06 12 34 56 78', phoneCountry: 'FR' } });
    expect(u.updateUser).toMatchObject({ __typename: 'UpdateUserSuccess', user: { phone: '+33612345678' } });
    const fallback = await t.run(UpdateUser, { input: { userId, phone: '415 555 0143' } });
    expect(fallback.updateUser).toMatchObject({ user: { phone: '+14155550143' } });
  });

  it('refuses an unknown country code, or one without a phone, naming phoneCountry', async () => {
    const bad = await t.run(CreateUser, { input: { phone: '030 12345678', phoneCountry: 'ZZ' } });
    expect(bad.createUser).toMatchObject({ __typename: 'InvalidInputError', field: 'phoneCountry' });
    const userId = await newUser();
    const badUpdate = await t.run(UpdateUser, { input: { userId, phone: '030 12345678', phoneCountry: 'Germany' } });
    expect(badUpdate.updateUser).toMatchObject({ __typename: 'InvalidInputError', field: 'phoneCountry' });
    const alone = await t.run(UpdateUser, { input: { userId, displayName: 'No phone', phoneCountry: 'DE' } });
    expect(alone.updateUser).toMatchObject({ __typename: 'InvalidInputError', field: 'phoneCountry' });
  });
});
