/**
 * Fluent scenarios for tests: the state a test starts from, built through the
 * services as an admin would, so each test file stops keeping its own
 * `newUser`. A scenario is a chain that runs when awaited:
 *
 *   const ada = await seed(t).user({ password: 'correct horse battery' }).withTotp().withOtpSms().signedIn();
 *   ada.id, ada.email, ada.totp.secret, ada.session.accessToken
 */
import type { SessionTokens } from '../../src/modules/sessions/service.js';
import { systemMeta } from '../../src/kernel/events/outbox.js';
import { totpCode, totpStep } from '../../src/modules/totp/service.js';
import type { TestApp } from './app.js';

export interface SeededUser {
  id: string;
  email: string | null;
  phone: string | null;
  password?: string;
  totp?: { secret: string; authMethodId: string };
  backupCodes?: string[];
  session?: SessionTokens;
}

type Step = (user: SeededUser) => Promise<void>;

let counter = 0;
const unique = () => `${process.pid}${++counter}`;

export class UserScenario implements PromiseLike<SeededUser> {
  private readonly steps: Step[] = [];

  constructor(
    private readonly t: TestApp,
    private readonly input: { email?: string | null; phone?: string | null; username?: string; password?: string; givenName?: string },
  ) {}

  private add(step: Step): this {
    this.steps.push(step);
    return this;
  }

  /** Email and phone marked verified, as after verifyEmail / verifyPhone. */
  verified(): this {
    return this.add(async (u) => {
      const now = this.t.app.services.clock.now();
      await this.t.app.database.client.user.update({
        where: { id: u.id },
        data: { emailVerifiedAt: u.email ? now : null, phoneVerifiedAt: u.phone ? now : null },
      });
    });
  }

  /** An active TOTP authenticator (registered with a code of the current step, which then counts as used). */
  withTotp(): this {
    return this.add(async (u) => {
      const s = this.t.app.services;
      const { secret, authMethodId } = await s.totp.startTotpRegistration(u.id, systemMeta);
      await s.totp.verifyTotpRegistration(u.id, totpCode(secret, totpStep(s.clock.now())), systemMeta);
      u.totp = { secret, authMethodId };
    });
  }

  withBackupCodes(): this {
    return this.add(async (u) => {
      u.backupCodes = (await this.t.app.services.backupCodes.generateBackupCodes(u.id, systemMeta)).codes;
    });
  }

  /** One-time codes by SMS as a second factor (the phone is marked verified first). */
  withOtpSms(): this {
    return this.verified().add(async (u) => void (await this.t.app.services.otpFactors.addOtpSms(u.id, systemMeta)));
  }

  /** One-time codes by email as a second factor (the email is marked verified first). */
  withOtpEmail(): this {
    return this.verified().add(async (u) => void (await this.t.app.services.otpFactors.addOtpEmail(u.id, systemMeta)));
  }

  /** A session of its own, as after a successful sign-in. */
  signedIn(): this {
    return this.add(async (u) => {
      u.session = await this.t.app.services.sessions.createSession(u.id, { name: 'seeded' }, systemMeta);
    });
  }

  then<A = SeededUser, B = never>(onFulfilled?: ((value: SeededUser) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): PromiseLike<A | B> {
    return this.run().then(onFulfilled, onRejected);
  }

  private async run(): Promise<SeededUser> {
    const s = this.t.app.services;
    const email = this.input.email === undefined ? `user${unique()}@example.com` : this.input.email;
    const created = await s.users.createUser({ email, phone: this.input.phone ?? null, username: this.input.username, givenName: this.input.givenName }, systemMeta);
    const user: SeededUser = { id: created.id, email: created.email, phone: created.phone };
    if (this.input.password) {
      await s.passwords.setPassword(created.id, { password: this.input.password }, systemMeta);
      user.password = this.input.password;
    }
    for (const step of this.steps) await step(user);
    return user;
  }
}

export function seed(t: TestApp) {
  return {
    /** A user; without an email one is made up, unique in the run. */
    user: (input: ConstructorParameters<typeof UserScenario>[1] = {}) => new UserScenario(t, input),
  };
}

/** A role with its permissions (created through the roles service; permission keys already there are reused). */
export async function seedRole(
  t: TestApp,
  input: { key: string; scope?: 'GLOBAL' | 'ORGANIZATION'; isDefault?: boolean; permissions?: string[]; name?: string },
): Promise<{ id: string; key: string }> {
  const roles = t.app.services.roles;
  const db = t.app.database.client;
  // Permissions are shared between roles: an existing key is reused.
  const permissionIds: string[] = [];
  for (const key of input.permissions ?? []) {
    const found = await db.permission.findUnique({ where: { key }, select: { id: true } });
    permissionIds.push(found ? found.id : (await roles.createPermission({ key }, systemMeta)).id);
  }
  const role = await roles.createRole(
    { key: input.key, name: input.name ?? input.key, scope: input.scope ?? 'ORGANIZATION', isDefault: input.isDefault ?? false, permissionIds },
    systemMeta,
  );
  return { id: role.id, key: role.key };
}
