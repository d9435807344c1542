// The passkey demo: registers a passkey with a registration link code and
// signs in with it, through Portcullis' public GraphQL operations. No API key
// is involved: the link code and the signed WebAuthn responses are the proof.
(function () {
  'use strict';
  const { startRegistration, startAuthentication, browserSupportsWebAuthn } = window.SimpleWebAuthnBrowser;
  const $ = (id) => document.getElementById(id);

  const START_REGISTRATION = `mutation StartPasskeyRegistrationWithCode($input: StartPasskeyRegistrationWithCodeInput!) {
    startPasskeyRegistrationWithCode(input: $input) {
      __typename
      ... on StartPasskeyRegistrationWithCodeSuccess { options }
      ... on Error { code message }
    }
  }`;
  const VERIFY_REGISTRATION = `mutation VerifyPasskeyRegistrationWithCode($input: VerifyPasskeyRegistrationWithCodeInput!) {
    verifyPasskeyRegistrationWithCode(input: $input) {
      __typename
      ... on VerifyPasskeyRegistrationWithCodeSuccess { authMethod { id kind createdAt ... on PasskeyMethod { name deviceType backedUp } } }
      ... on WebAuthnVerificationError { reason }
      ... on Error { code message }
    }
  }`;
  const START_AUTHENTICATION = `mutation StartPasskeyAuthentication($input: StartPasskeyAuthenticationInput!) {
    startPasskeyAuthentication(input: $input) {
      __typename
      ... on StartPasskeyAuthenticationSuccess { options }
      ... on Error { code message }
    }
  }`;
  const VERIFY_AUTHENTICATION = `mutation VerifyPasskeyAuthentication($input: VerifyPasskeyAuthenticationInput!) {
    verifyPasskeyAuthentication(input: $input) {
      __typename
      ... on VerifyPasskeyAuthenticationSuccess { user { id email displayName } authMethod { id kind lastUsedAt } sessionId sessionExpiresAt }
      ... on WebAuthnVerificationError { reason }
      ... on Error { code message }
    }
  }`;

  function show(outcome, message, detail) {
    const status = $('status');
    status.dataset.outcome = outcome;
    status.textContent = message;
    $('result').textContent = detail ? JSON.stringify(detail, null, 2) : '';
  }

  async function graphql(query, variables) {
    const response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    const body = await response.json();
    if (body.errors && body.errors.length) throw new Error(body.errors[0].message);
    return body.data;
  }

  /** A result union member that is not the success type becomes an error message. */
  function expectSuccess(result, typename) {
    if (result.__typename !== typename) {
      const why = result.reason ? `${result.code || 'WEBAUTHN_VERIFICATION_FAILED'} (${result.reason})` : result.code;
      throw new Error(`${why}: ${result.message || result.__typename}`);
    }
    return result;
  }

  function busy(on) {
    for (const b of document.querySelectorAll('button')) b.disabled = on;
  }

  const params = new URLSearchParams(location.search);
  const link = { user: params.get('user'), code: params.get('code') };
  if (link.user && link.code) {
    $('register').hidden = false;
    $('register-user').textContent = link.user;
    // Keep the code out of the address bar and history once it has been read.
    history.replaceState(null, '', location.pathname);
  }

  $('register-button').addEventListener('click', async () => {
    busy(true);
    show('working', 'Registering…');
    try {
      const started = expectSuccess(
        (await graphql(START_REGISTRATION, { input: { userId: link.user, code: link.code, authenticatorType: 'PASSKEY' } })).startPasskeyRegistrationWithCode,
        'StartPasskeyRegistrationWithCodeSuccess',
      );
      const response = await startRegistration({ optionsJSON: started.options });
      const verified = expectSuccess(
        (await graphql(VERIFY_REGISTRATION, { input: { userId: link.user, response, name: $('passkey-name').value } })).verifyPasskeyRegistrationWithCode,
        'VerifyPasskeyRegistrationWithCodeSuccess',
      );
      $('register').hidden = true;
      show('registered', 'Passkey registered. You can sign in with it now.', verified.authMethod);
    } catch (error) {
      show('error', `Registration failed: ${error.message}`);
    } finally {
      busy(false);
    }
  });

  $('signin-button').addEventListener('click', async () => {
    busy(true);
    show('working', 'Signing in…');
    try {
      const started = expectSuccess((await graphql(START_AUTHENTICATION, { input: {} })).startPasskeyAuthentication, 'StartPasskeyAuthenticationSuccess');
      const response = await startAuthentication({ optionsJSON: started.options });
      const verified = expectSuccess((await graphql(VERIFY_AUTHENTICATION, { input: { response } })).verifyPasskeyAuthentication, 'VerifyPasskeyAuthenticationSuccess');
      // The tokens stay out of the page: a real app would keep them; the demo shows which session was opened.
      show('signed-in', `Signed in as ${verified.user.email || verified.user.id}.`, { user: verified.user, authMethod: verified.authMethod, sessionId: verified.sessionId, sessionExpiresAt: verified.sessionExpiresAt });
    } catch (error) {
      show('error', `Sign-in failed: ${error.message}`);
    } finally {
      busy(false);
    }
  });

  if (!browserSupportsWebAuthn()) show('error', 'This browser does not support WebAuthn.');
})();
