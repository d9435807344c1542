/**
 * The rules of the house, checked on the source, and the public surface that
 * a refactoring must not move by accident:
 *
 * - the kernel knows no feature: nothing under src/kernel imports a module,
 *   the GraphQL layer or the server;
 * - services are free of GraphQL: only a module's schema files import
 *   graphql, Pothos, yoga or src/graphql;
 * - a module never reaches into another module's store or schema;
 * - only a module's stores (store.ts, or part.store.ts) and the kernel write SQL or call a Prisma write;
 * - only src/config.ts reads the environment (src/main.ts passes it in);
 * - the operations anyone may call without a key, and the event types, are
 *   exactly the announced ones.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSchema } from '../src/graphql/index.js';
import { eventTypes } from '../src/modules/catalog.js';
import { modules } from '../src/modules/index.js';
import { publicOperations } from '../src/server/auth.js';

const schema = await loadSchema();

const root = path.resolve(import.meta.dirname, '..');
const src = path.join(root, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (name === 'generated') return [];
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [full] : [];
  });
}

const files = sourceFiles(src).map((file) => ({ file: path.relative(root, file), text: readFileSync(file, 'utf8') }));
const importsOf = (text: string) => [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*'([^']+)'|import\('([^']+)'\)/g)].map((m) => m[1] ?? m[2]);
/** Where a relative import points, from the repository root. */
const target = (file: string, spec: string) => (spec.startsWith('.') ? path.relative(root, path.resolve(root, path.dirname(file), spec)) : spec);
const moduleOf = (file: string) => /^src\/modules\/([^/]+)\//.exec(file)?.[1];
const isSchemaFile = (file: string) => /\/(schema|[a-z-]+\.schema)\.ts$/.test(file);
/** A module's store: store.ts, or in a larger module one per part (roles.store.ts). */
const isStoreFile = (file: string) => /\/(store|[a-z-]+\.store)\.ts$/.test(file);

describe('import rules', () => {
  it('the kernel imports no module, no GraphQL layer and no server', () => {
    const offending = files
      .filter((f) => f.file.startsWith('src/kernel/'))
      .flatMap((f) => importsOf(f.text).map((spec) => `${f.file} → ${target(f.file, spec)}`))
      .filter((edge) => /→ src\/(modules|graphql|server)\//.test(edge));
    expect(offending).toEqual([]);
  });

  it('only schema files import GraphQL, Pothos, yoga or src/graphql', () => {
    const offending = files
      .filter((f) => f.file.startsWith('src/modules/') && !isSchemaFile(f.file))
      .flatMap((f) => importsOf(f.text).map((spec) => `${f.file} → ${target(f.file, spec)}`))
      .filter((edge) => /→ (graphql|graphql-yoga|@pothos\/.*|src\/graphql\/.*)$/.test(edge));
    expect(offending).toEqual([]);
  });

  it("no module imports another module's store, and only schema files import another module's schema", () => {
    const offending = files
      .filter((f) => moduleOf(f.file))
      .flatMap((f) => importsOf(f.text).map((spec) => ({ from: f.file, to: target(f.file, spec).replace(/\.js$/, '.ts') })))
      .filter(({ from, to }) => moduleOf(to) && moduleOf(to) !== moduleOf(from))
      // GraphQL types reference each other (a user has auth methods and events): schema files may share refs.
      .filter(({ from, to }) => isStoreFile(to) || (isSchemaFile(to) && !isSchemaFile(from)))
      .map(({ from, to }) => `${from} → ${to}`);
    expect(offending).toEqual([]);
  });

  it('only stores and the kernel write SQL or call a Prisma write', () => {
    const write = /\b(db|tx|client)\.\w+\.(create|createMany|update|updateMany|upsert|delete|deleteMany)\(|\$executeRaw|\$queryRaw|\bdirect\.(all|run|allAfter|runIfChanged|allIfChanged|allThen)\(/;
    const offending = files
      .filter((f) => !f.file.startsWith('src/kernel/') && !isStoreFile(f.file))
      .flatMap((f) => f.text.split('\n').map((line, i) => ({ where: `${f.file}:${i + 1}`, line })))
      .filter(({ line }) => write.test(line) && !/^\s*(\*|\/\/)/.test(line))
      .map(({ where, line }) => `${where}: ${line.trim()}`);
    expect(offending).toEqual([]);
  });

  it('reads the environment only in src/config.ts (and src/main.ts, which hands it over)', () => {
    const readers = files.filter((f) => /process\.env/.test(f.text)).map((f) => f.file);
    expect(readers.sort()).toEqual(['src/config.ts', 'src/main.ts']);
  });
});

describe('the module list', () => {
  const folders = readdirSync(path.join(src, 'modules')).filter((name) => statSync(path.join(src, 'modules', name)).isDirectory());

  it('names every capability folder once, each with its manifest', () => {
    expect(modules.map((m) => m.name).sort()).toEqual([...folders].sort());
    for (const folder of folders) expect(files.some((f) => f.file === `src/modules/${folder}/module.ts`), folder).toBe(true);
  });

  it("gathers exactly the manifests' events into the catalog, and every module with a schema registers it", () => {
    const declared = modules.flatMap((m) => Object.keys(m.events ?? {}));
    expect(declared.sort()).toEqual([...eventTypes].sort());
    expect(new Set(declared).size).toBe(declared.length);
    for (const folder of folders) {
      const hasSchema = files.some((f) => f.file.startsWith(`src/modules/${folder}/`) && isSchemaFile(f.file));
      expect(Boolean(modules.find((m) => m.name === folder)?.schema), folder).toBe(hasSchema);
    }
  });
});

describe('the public surface', () => {
  it('lets anonymous callers run exactly the sign-in operations and those authorized by a secret in their input', () => {
    expect([...publicOperations(schema)].sort()).toEqual([
      'completeMfaLogin',
      'completeMfaLoginWithPasskey',
      'login',
      'loginWithIdpIntent',
      'refreshSession',
      'sendMfaOtp',
      'startIdpIntent',
      'startPasskeyAuthentication',
      'startPasskeyRegistrationWithCode',
      'verifyPasskeyAuthentication',
      'verifyPasskeyRegistrationWithCode',
    ]);
  });

  it('records exactly the announced event types', () => {
    expect([...eventTypes].sort()).toEqual([
      'api_key.created',
      'api_key.revoked',
      'identity_provider.created',
      'identity_provider.deleted',
      'identity_provider.updated',
      'organization.created',
      'organization.deleted',
      'organization.domain_added',
      'organization.domain_removed',
      'organization.domain_updated',
      'organization.domain_verified',
      'organization.invitation_accepted',
      'organization.invitation_created',
      'organization.invitation_expired',
      'organization.invitation_revoked',
      'organization.member_added',
      'organization.member_removed',
      'organization.member_roles_updated',
      'organization.updated',
      'permission.created',
      'permission.deleted',
      'role.created',
      'role.deleted',
      'role.permissions_updated',
      'role.updated',
      'user.backup_code_used',
      'user.backup_codes_generated',
      'user.backup_codes_removed',
      'user.created',
      'user.deactivated',
      'user.deleted',
      'user.email_changed',
      'user.email_verified',
      'user.idp_linked',
      'user.idp_login_failed',
      'user.idp_unlinked',
      'user.locked',
      'user.logged_in',
      'user.login_failed',
      'user.metadata_updated',
      'user.otp_email_added',
      'user.otp_email_removed',
      'user.otp_sms_added',
      'user.otp_sms_removed',
      'user.passkey_added',
      'user.passkey_counter_regressed',
      'user.passkey_removed',
      'user.passkey_verified',
      'user.password_changed',
      'user.password_removed',
      'user.password_reset_requested',
      'user.password_verification_failed',
      'user.password_verified',
      'user.pat_created',
      'user.pat_revoked',
      'user.phone_changed',
      'user.phone_verified',
      'user.reactivated',
      'user.reauthenticated',
      'user.refresh_token_reused',
      'user.roles_updated',
      'user.session_revoked',
      'user.totp_added',
      'user.totp_removed',
      'user.totp_verification_failed',
      'user.totp_verified',
      'user.unlocked',
      'user.updated',
      'webhook.test',
      'webhook_app.created',
      'webhook_app.deleted',
      'webhook_app.disabled',
      'webhook_app.secret_rotated',
      'webhook_app.updated',
      'webhook_portal.link_created',
      'webhook_portal.link_used',
    ]);
  });
});
