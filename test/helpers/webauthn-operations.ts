/**
 * The GraphQL documents and small steps the WebAuthn tests share.
 */
import { graphql } from '../gql/index.js';
import type { TestApp } from './app.js';
import type { SoftwareAuthenticator } from './webauthn-authenticator.js';

export const ORIGIN = 'https://id.example.test';
export const RP_ID = 'id.example.test';
export const webauthnEnv = { PORTCULLIS_WEBAUTHN_RP_ID: RP_ID, PORTCULLIS_WEBAUTHN_ORIGINS: `${ORIGIN},https://other.example.test`, PORTCULLIS_WEBAUTHN_RP_NAME: 'Example ID' };

export const CreateUser = graphql(`
  mutation WaCreateUser($input: CreateUserInput!) {
    createUser(input: $input) { __typename ... on CreateUserSuccess { user { id } } }
  }
`);
export const StartRegistration = graphql(`
  mutation WaStartRegistration($input: StartPasskeyRegistrationInput!) {
    startPasskeyRegistration(input: $input) {
      __typename
      ... on StartPasskeyRegistrationSuccess { options expiresAt }
      ... on Error { code message }
    }
  }
`);
export const VerifyRegistration = graphql(`
  mutation WaVerifyRegistration($input: VerifyPasskeyRegistrationInput!) {
    verifyPasskeyRegistration(input: $input) {
      __typename
      ... on VerifyPasskeyRegistrationSuccess {
        user { id mfaEnabled authMethods { __typename id kind } }
        authMethod { __typename id kind verified createdAt lastUsedAt ... on PasskeyMethod { name deviceType backedUp } ... on U2fMethod { name deviceType backedUp } }
      }
      ... on WebAuthnVerificationError { code reason message }
      ... on Error { code message }
    }
  }
`);
export const StartAuthentication = graphql(`
  mutation WaStartAuthentication($input: StartPasskeyAuthenticationInput!) {
    startPasskeyAuthentication(input: $input) {
      __typename
      ... on StartPasskeyAuthenticationSuccess { options expiresAt }
      ... on Error { code message }
    }
  }
`);
export const VerifyAuthentication = graphql(`
  mutation WaVerifyAuthentication($input: VerifyPasskeyAuthenticationInput!) {
    verifyPasskeyAuthentication(input: $input) {
      __typename
      ... on VerifyPasskeyAuthenticationSuccess { user { id lastLoginAt } authMethod { id kind lastUsedAt } accessToken tokenType expiresAt refreshToken sessionId sessionExpiresAt }
      ... on WebAuthnVerificationError { code reason }
      ... on Error { code message }
    }
  }
`);
export const CreateLink = graphql(`
  mutation WaCreateLink($input: CreatePasskeyRegistrationLinkInput!) {
    createPasskeyRegistrationLink(input: $input) {
      __typename
      ... on CreatePasskeyRegistrationLinkSuccess { linkCode: issuedCode expiresAt user { id } }
      ... on InvalidInputError { code field }
      ... on Error { code }
    }
  }
`);
export const StartWithCode = graphql(`
  mutation WaStartWithCode($input: StartPasskeyRegistrationWithCodeInput!) {
    startPasskeyRegistrationWithCode(input: $input) {
      __typename
      ... on StartPasskeyRegistrationWithCodeSuccess { options expiresAt }
      ... on Error { code }
    }
  }
`);
export const VerifyWithCode = graphql(`
  mutation WaVerifyWithCode($input: VerifyPasskeyRegistrationWithCodeInput!) {
    verifyPasskeyRegistrationWithCode(input: $input) {
      __typename
      ... on VerifyPasskeyRegistrationWithCodeSuccess { authMethod { id kind } }
      ... on WebAuthnVerificationError { code reason }
      ... on Error { code }
    }
  }
`);
export const UserEvents = graphql(`
  query WaUserEvents($id: ID!) {
    user(id: $id) { authMethods { id kind lastUsedAt } events(first: 50) { edges { node { type data } } } }
  }
`);

export type Options = { challenge: string; rp: { id: string; name: string }; user: { id: string; name: string }; [k: string]: unknown };
export type RequestOptions = { challenge: string; rpId: string; allowCredentials?: Array<{ id: string }>; userVerification?: string };


/** Steps on one test app: create a user, start and finish a registration. */
export function webauthnSteps(t: () => TestApp) {
  async function newUser(email: string) {
    const data = await t().run(CreateUser, { input: { email } });
    if (data.createUser.__typename !== 'CreateUserSuccess') throw new Error('createUser failed');
    return data.createUser.user.id;
  }
  async function startRegistration(userId: string, authenticatorType: 'PASSKEY' | 'U2F' = 'PASSKEY') {
    const data = await t().run(StartRegistration, { input: { userId, authenticatorType } });
    if (data.startPasskeyRegistration.__typename !== 'StartPasskeyRegistrationSuccess') throw new Error(JSON.stringify(data));
    return data.startPasskeyRegistration.options as Options;
  }
  async function register(userId: string, key: SoftwareAuthenticator, name?: string) {
    const options = await startRegistration(userId);
    const data = await t().run(VerifyRegistration, { input: { userId, response: key.register(options), name } });
    return data.verifyPasskeyRegistration;
  }
  async function startAuthentication(userId?: string) {
    const data = await t().run(StartAuthentication, { input: { userId } }, { token: null });
    if (data.startPasskeyAuthentication.__typename !== 'StartPasskeyAuthenticationSuccess') throw new Error(JSON.stringify(data));
    return data.startPasskeyAuthentication.options as RequestOptions;
  }
  async function authenticate(response: unknown) {
    const data = await t().run(VerifyAuthentication, { input: { response } }, { token: null });
    return data.verifyPasskeyAuthentication;
  }
  return { newUser, startRegistration, register, startAuthentication, authenticate };
}
