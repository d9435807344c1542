import type { SecondFactorStrategy } from '../sign-in/strategy.js';
import type { WebAuthnService } from './service.js';

/** Passkeys and security keys: a signed assertion answering a startPasskeyAuthentication challenge. */
export function passkeyStrategy(webauthn: Pick<WebAuthnService, 'verifyPasskeyAuthentication'>): SecondFactorStrategy {
  return {
    methods: ['PASSKEY'],
    async verifyAssertion(response, meta) {
      const { user } = await webauthn.verifyPasskeyAuthentication({ response }, meta);
      return { userId: user.id };
    },
  };
}
