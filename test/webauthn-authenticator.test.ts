/**
 * The software authenticator the WebAuthn API tests rely on, checked against
 * @simplewebauthn/server's own decoders, so a passing API test means the
 * gateway accepted well-formed WebAuthn data, not a quirk of our encoder.
 */
import { decodeAttestationObject, decodeCredentialPublicKey, isoCBOR, parseAuthenticatorData } from '@simplewebauthn/server/helpers';
import { describe, expect, it } from 'vitest';
import { encodeCbor, softwareAuthenticator } from './helpers/webauthn-authenticator.js';

describe('encodeCbor', () => {
  it('round-trips through a reference CBOR decoder, including long and negative values', () => {
    const value = new Map<number | string, unknown>([
      [1, 2],
      [-3, new Uint8Array(300).fill(9)],
      ['text', 'é'.repeat(30)],
      [70_000, -70_000],
    ]);
    const decoded = isoCBOR.decodeFirst<Map<unknown, unknown>>(new Uint8Array(encodeCbor(value as never)));
    expect(decoded.get(1)).toBe(2);
    expect(Buffer.from(decoded.get(-3) as Uint8Array)).toEqual(Buffer.alloc(300, 9));
    expect(decoded.get('text')).toBe('é'.repeat(30));
    expect(decoded.get(70_000)).toBe(-70_000);
  });
});

describe('softwareAuthenticator', () => {
  it('builds an attestation object with "none" attestation, an ES256 COSE key and the requested flags', () => {
    const key = softwareAuthenticator({ origin: 'https://id.example.test', backedUp: true });
    const response = key.register({ challenge: 'Y2hhbGxlbmdl', rp: { id: 'id.example.test' }, user: { id: 'dXNyXzE' } }) as { response: { attestationObject: string } };
    const attestation = decodeAttestationObject(new Uint8Array(Buffer.from(response.response.attestationObject, 'base64url')));
    expect(attestation.get('fmt')).toBe('none');
    const authData = parseAuthenticatorData(attestation.get('authData'));
    expect(authData.flags).toMatchObject({ up: true, uv: true, be: true, bs: true, at: true });
    expect(Buffer.from(authData.credentialID!).toString('base64url')).toBe(key.credentialId);
    const cose = decodeCredentialPublicKey(authData.credentialPublicKey!);
    expect(cose.get(3)).toBe(-7);
  });
});
