import { describe, expect, it } from 'vitest';
import type { AuthMethod } from '../../kernel/db/models.js';
import { classifyWebAuthnError, publicWebAuthnMethod } from './service.js';

describe('classifyWebAuthnError', () => {
  it("maps @simplewebauthn/server's refusals to stable reasons and keeps its message (which names expected values) out", () => {
    expect(classifyWebAuthnError(new Error('Unexpected authentication response origin "https://evil.example", expected "https://id.example"'))).toBe('ORIGIN_MISMATCH');
    expect(classifyWebAuthnError(new Error('Unexpected RP ID hash'))).toBe('RP_ID_MISMATCH');
    expect(classifyWebAuthnError(new Error('User verification was required, but user could not be verified'))).toBe('USER_VERIFICATION_REQUIRED');
    expect(classifyWebAuthnError(new Error('Unsupported Attestation Format: tpm'))).toBe('MALFORMED_RESPONSE');
    expect(classifyWebAuthnError('not even an error')).toBe('MALFORMED_RESPONSE');
  });
});

describe('publicWebAuthnMethod', () => {
  it('carries the public facts for events and never the public key or counter', () => {
    const method = {
      id: 'am_pk_1',
      kind: 'PASSKEY',
      name: 'Laptop',
      counter: 7,
      credentialId: 'cred',
      data: { publicKey: 'pQECAyYgASFYIA', aaguid: 'aaguid-1', deviceType: 'multiDevice', backedUp: true, transports: ['internal'] },
    } as unknown as AuthMethod;
    const facts = publicWebAuthnMethod(method);
    expect(facts).toEqual({ id: 'am_pk_1', kind: 'PASSKEY', name: 'Laptop', aaguid: 'aaguid-1', deviceType: 'multiDevice', backedUp: true });
    expect(JSON.stringify(facts)).not.toContain('pQECAyYgASFYIA');
  });
});
