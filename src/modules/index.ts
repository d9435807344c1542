/**
 * The capabilities of the gateway, in dependency order: each later module may
 * use the services of earlier ones. Adding a capability is one folder under
 * src/modules and one line here (its services join the composition root,
 * services.ts).
 */
import { accessTokensModule } from './access-tokens/module.js';
import { authMethodsModule } from './auth-methods/module.js';
import { codesModule } from './codes/module.js';
import { eventsModule } from './events/module.js';
import { identityProvidersModule } from './identity-providers/module.js';
import { lockoutModule } from './lockout/module.js';
import { organizationsModule } from './organizations/module.js';
import { otpModule } from './otp/module.js';
import { passkeysModule } from './passkeys/module.js';
import { passwordModule } from './password/module.js';
import { personalAccessTokensModule } from './personal-access-tokens/module.js';
import { sessionsModule } from './sessions/module.js';
import { signInModule } from './sign-in/module.js';
import { statisticsModule } from './statistics/module.js';
import { totpModule } from './totp/module.js';
import { usersModule } from './users/module.js';
import { webhooksModule } from './webhooks/module.js';

export const modules = [
  usersModule,
  lockoutModule,
  codesModule,
  authMethodsModule,
  passwordModule,
  totpModule,
  otpModule,
  passkeysModule,
  sessionsModule,
  signInModule,
  statisticsModule,
  identityProvidersModule,
  accessTokensModule,
  personalAccessTokensModule,
  organizationsModule,
  webhooksModule,
  eventsModule,
] as const;

export { createServices, type ServiceDeps, type Services } from './services.js';
