import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../kernel/errors.js';
import { isLoopbackUrl, newProviderColumns, profileOf, updatedProviderColumns } from './providers.js';

describe('provider settings', () => {
  it('fill in each preset and keep an OIDC issuer exactly as written', () => {
    expect(newProviderColumns('OIDC', { name: 'Acme', clientId: 'c', issuer: 'https://id.acme.example/realms/main' })).toMatchObject({
      issuer: 'https://id.acme.example/realms/main',
      scopes: 'openid email profile',
      authorizationEndpoint: null,
    });
    expect(newProviderColumns('OIDC', { name: 'A', clientId: 'c', issuer: 'https://id.example.com', scopes: ['email'] }).scopes).toBe('openid email');
    expect(newProviderColumns('MICROSOFT', { name: 'M', clientId: 'c' }).issuer).toBe('https://login.microsoftonline.com/common/v2.0');
    expect(newProviderColumns('GITHUB', { name: 'G', clientId: 'c', tokenEndpoint: 'https://ghe.example.com/login/oauth/access_token' })).toMatchObject({
      tokenEndpoint: 'https://ghe.example.com/login/oauth/access_token',
      userinfoEndpoint: 'https://api.github.com/user',
      scopes: 'read:user user:email',
    });
  });

  it('refuse URLs without TLS except on loopback, credentials in URLs, and settings of another kind', () => {
    const refused = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof InvalidInputError ? error.field : error;
      }
      return 'accepted';
    };
    expect(refused(() => newProviderColumns('OIDC', { name: 'A', clientId: 'c', issuer: 'http://id.example.com' }))).toBe('issuer');
    expect(refused(() => newProviderColumns('OIDC', { name: 'A', clientId: 'c', issuer: 'http://127.0.0.1:8080' }))).toBe('accepted');
    expect(refused(() => newProviderColumns('OIDC', { name: 'A', clientId: 'c', issuer: 'https://user:pw@id.example.com' }))).toBe('issuer');
    expect(refused(() => newProviderColumns('GOOGLE', { name: 'A', clientId: 'c', tokenEndpoint: 'https://x.example.com/t' }))).toBe('tokenEndpoint');
    expect(refused(() => newProviderColumns('OIDC', { name: 'A', clientId: 'c', issuer: 'https://i.example.com', tenant: 't' }))).toBe('tenant');
    expect(refused(() => newProviderColumns('OIDC', { name: 'A', clientId: 'c', issuer: 'https://i.example.com', scopes: ['a b'] }))).toBe('scopes');
    expect(isLoopbackUrl(new URL('http://localhost:1/'))).toBe(true);
    expect(isLoopbackUrl(new URL('http://127.10.0.1/'))).toBe(true);
    expect(isLoopbackUrl(new URL('http://169.254.169.254/'))).toBe(false);
    expect(isLoopbackUrl(new URL('https://127.0.0.1/'))).toBe(false);
  });

  it('merge an update into the current columns and name what changed', () => {
    const current = newProviderColumns('MICROSOFT', { name: 'M', clientId: 'c', tenant: 'contoso.example' });
    const { columns, changes } = updatedProviderColumns(current, { enabled: false, linkPolicy: 'NONE' });
    expect(columns.issuer).toBe(current.issuer);
    expect(changes.sort()).toEqual(['enabled', 'linkPolicy']);
  });
});

describe('profiles', () => {
  const oidc = { kind: 'OIDC' as const, claimMapping: null, trustEmail: false };

  it('take the email as verified only when the provider says so, or is trusted', () => {
    expect(profileOf(oidc, { sub: 's', email: 'a@example.com', email_verified: true })).toMatchObject({ subject: 's', email: 'a@example.com', emailVerified: true });
    expect(profileOf(oidc, { sub: 's', email: 'a@example.com', email_verified: 'true' })?.emailVerified).toBe(true);
    expect(profileOf(oidc, { sub: 's', email: 'a@example.com' })?.emailVerified).toBe(false);
    expect(profileOf(oidc, { sub: 's', email: 'a@example.com', email_verified: 'yes' })?.emailVerified).toBe(false);
    expect(profileOf({ ...oidc, trustEmail: true }, { sub: 's', email: 'a@example.com' })?.emailVerified).toBe(true);
    expect(profileOf(oidc, { sub: 's', email: 'not an email', email_verified: true })).toMatchObject({ email: null, emailVerified: false });
  });

  it('read GitHub numeric ids and only a verified primary email', () => {
    const github = { kind: 'GITHUB' as const, claimMapping: null, trustEmail: true };
    const emails = [
      { email: 'old@example.com', verified: true, primary: false },
      { email: 'main@example.com', verified: false, primary: true },
    ];
    expect(profileOf(github, { id: 42, login: 'octo', avatar_url: 'javascript:alert(1)' }, emails)).toMatchObject({ subject: '42', username: 'octo', email: null, emailVerified: false, picture: null });
    expect(profileOf(github, { id: 42 }, [{ email: 'main@example.com', verified: true, primary: true }])).toMatchObject({ email: 'main@example.com', emailVerified: true });
  });

  it('follow a claim mapping, and have no profile without a subject', () => {
    expect(profileOf({ kind: 'OAUTH2', claimMapping: { subject: 'uid', email: 'mail' }, trustEmail: false }, { uid: 'u-1', mail: 'm@example.com' })).toMatchObject({ subject: 'u-1', email: 'm@example.com' });
    expect(profileOf(oidc, { email: 'a@example.com' })).toBeNull();
    expect(profileOf(oidc, { sub: '' })).toBeNull();
    expect(profileOf(oidc, { sub: { nested: true } })).toBeNull();
  });
});
