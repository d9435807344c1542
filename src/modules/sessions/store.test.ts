/**
 * The sessions store's contract, on the provider under test (the suite runs
 * once on SQLite and once on PostgreSQL): a refresh token is consumed once,
 * a session revoked once, "live" means not revoked and not expired, and the
 * current signing key moves only from the key a rotation read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../test/helpers/db.js';
import { createDatabase, isUniqueViolation, type Database } from '../../kernel/db/client.js';
import { newId } from '../../kernel/ids.js';
import { createSessionStatements, createSessionStore, createSigningKeyStore, type NewSession, type SessionStore, type SigningKeyStore } from './store.js';

let testDb: TestDatabase;
let database: Database;
let store: SessionStore;
let keys: SigningKeyStore;
let statements: ReturnType<typeof createSessionStatements>;

beforeAll(async () => {
  testDb = await freshDatabase();
  database = await createDatabase(testDb.provider, testDb.url);
  store = createSessionStore({ db: database.client });
  statements = createSessionStatements(database.direct);
  keys = createSigningKeyStore({ db: database.client });
});
afterAll(async () => {
  await database.close();
  await testDb.drop();
});

const at = (s: number) => new Date(Date.UTC(2026, 0, 2, 3, 4, s, 500));

async function newUser() {
  const id = newId('User');
  const email = `${id}@example.com`;
  return (await database.client.user.create({ data: { id, email, emailNormalized: email } })).id;
}
async function newSession(userId: string, more: Partial<NewSession> = {}) {
  const session: NewSession = {
    id: newId('Session'),
    userId,
    device: 'phone',
    ip: '192.0.2.1',
    userAgent: 'ua',
    createdAt: at(0),
    authenticatedAt: at(0),
    lastSeenAt: at(0),
    expiresAt: at(50),
    organizationId: null,
    ...more,
  };
  await database.client.$transaction((t) => store.insertSession(t, session));
  return session.id;
}
const sessionRow = (id: string) => database.client.session.findUniqueOrThrow({ where: { id } });

describe('session store', () => {
  it('insertSession, insertRefreshToken and stampUserLogin write what a sign-in opens', async () => {
    const userId = await newUser();
    const sessionId = newId('Session');
    await database.client.$transaction(async (t) => {
      await store.insertSession(t, { id: sessionId, userId, device: 'd', ip: null, userAgent: 'u', createdAt: at(1), authenticatedAt: at(1), lastSeenAt: at(1), expiresAt: at(9), organizationId: null });
      await store.insertRefreshToken(t, { sessionId, tokenHash: `hash-${sessionId}`, createdAt: at(1) });
      await store.stampUserLogin(t, userId, at(1), 'd');
    });
    expect(await sessionRow(sessionId)).toMatchObject({ userId, device: 'd', ip: null, userAgent: 'u', createdAt: at(1), authenticatedAt: at(1), lastSeenAt: at(1), expiresAt: at(9), revokedAt: null });
    expect(await database.client.refreshToken.findUnique({ where: { tokenHash: `hash-${sessionId}` } })).toMatchObject({ sessionId, usedAt: null, createdAt: at(1) });
    expect(await database.client.user.findUniqueOrThrow({ where: { id: userId } })).toMatchObject({ lastLoginAt: at(1), lastLoginDevice: 'd' });
  });

  it('rotateRefreshToken lets exactly one of concurrent rotations win, and only the winner stores its successor', async () => {
    const sessionId = await newSession(await newUser());
    const tokenHash = `hash-${newId('RefreshToken')}`;
    await database.client.$transaction((t) => store.insertRefreshToken(t, { sessionId, tokenHash, createdAt: at(0) }));
    const { id } = await database.client.refreshToken.findUniqueOrThrow({ where: { tokenHash } });
    const rotate = (i: number) => statements.rotateRefreshToken({ id, at: at(i) }, { id: newId('RefreshToken'), sessionId, tokenHash: `next-${i}-${tokenHash}` }, { ip: null, organizationId: null });
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => rotate(i + 1)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await database.client.refreshToken.findUniqueOrThrow({ where: { id } })).usedAt).not.toBeNull();
    expect(await database.client.refreshToken.count({ where: { sessionId, tokenHash: { startsWith: 'next-' } } })).toBe(1);
    expect(await rotate(9)).toBe(false);
    expect(await database.client.refreshToken.count({ where: { sessionId, tokenHash: { startsWith: 'next-' } } })).toBe(1);
  });

  it('revokeSessionOnce revokes once, with its reason, even for concurrent revocations', async () => {
    const sessionId = await newSession(await newUser());
    const results = await Promise.all(['a', 'b', 'c'].map((reason, i) => database.client.$transaction((t) => store.revokeSessionOnce(t, sessionId, reason, at(i + 1)))));
    expect(results.filter(Boolean)).toHaveLength(1);
    const row = await sessionRow(sessionId);
    expect(['a', 'b', 'c']).toContain(row.revokedReason);
    expect(row.revokedAt).not.toBeNull();
    expect(await database.client.$transaction((t) => store.revokeSessionOnce(t, sessionId, 'again', at(9)))).toBe(false);
    expect((await sessionRow(sessionId)).revokedReason).toBe(row.revokedReason);
  });

  it('findLiveSessions finds the unrevoked, unexpired sessions of the user, except one', async () => {
    const [userId, other] = [await newUser(), await newUser()];
    const live = await newSession(userId);
    const current = await newSession(userId);
    const expired = await newSession(userId, { expiresAt: at(10) });
    const revoked = await newSession(userId);
    await database.client.$transaction((t) => store.revokeSessionOnce(t, revoked, 'x', at(1)));
    await newSession(other);
    const ids = async (now: Date, except?: string) =>
      (await database.client.$transaction((t) => store.findLiveSessions(t, userId, now, except))).map((s) => s.id).sort();
    expect(await ids(at(10))).toEqual([live, current].sort());
    expect(await ids(at(10), current)).toEqual([live]);
    // Expiry is judged at the time given.
    expect(await ids(at(9))).toEqual([live, current, expired].sort());
  });

  it('markSessionReauthenticated stamps only a live session of that user', async () => {
    const [userId, other] = [await newUser(), await newUser()];
    const sessionId = await newSession(userId, { expiresAt: at(20) });
    const mark = (user: string, s: number) => database.client.$transaction((t) => store.markSessionReauthenticated(t, sessionId, user, at(s)));
    expect(await mark(other, 5)).toBe(false);
    expect(await mark(userId, 20)).toBe(false);
    expect((await sessionRow(sessionId)).authenticatedAt).toEqual(at(0));
    expect(await mark(userId, 5)).toBe(true);
    expect(await sessionRow(sessionId)).toMatchObject({ authenticatedAt: at(5), lastSeenAt: at(5) });
    await database.client.$transaction((t) => store.revokeSessionOnce(t, sessionId, 'x', at(6)));
    expect(await mark(userId, 7)).toBe(false);
  });

  it('a rotation and stampSessionSeen move lastSeenAt (the ip only when known), the seen stamp not on a revoked session', async () => {
    const sessionId = await newSession(await newUser());
    const rotate = async (s: number, ip: string | null) => {
      const tokenHash = `hash-${newId('RefreshToken')}`;
      await database.client.$transaction((t) => store.insertRefreshToken(t, { sessionId, tokenHash, createdAt: at(0) }));
      const { id } = await database.client.refreshToken.findUniqueOrThrow({ where: { tokenHash } });
      return statements.rotateRefreshToken({ id, at: at(s) }, { id: newId('RefreshToken'), sessionId, tokenHash: `next-${tokenHash}` }, { ip, organizationId: null });
    };
    expect(await rotate(2, null)).toBe(true);
    expect(await sessionRow(sessionId)).toMatchObject({ lastSeenAt: at(2), ip: '192.0.2.1' });
    expect(await rotate(3, '198.51.100.7')).toBe(true);
    expect(await sessionRow(sessionId)).toMatchObject({ lastSeenAt: at(3), ip: '198.51.100.7' });
    await statements.stampSessionSeen(sessionId, at(4));
    expect((await sessionRow(sessionId)).lastSeenAt).toEqual(at(4));
    await database.client.$transaction((t) => store.revokeSessionOnce(t, sessionId, 'x', at(5)));
    await statements.stampSessionSeen(sessionId, at(6));
    expect((await sessionRow(sessionId)).lastSeenAt).toEqual(at(4));
  });
});

describe('signing key store', () => {
  const newKey = (createdAt = at(0)) => ({ id: newId('SigningKey'), alg: 'EdDSA', publicJwk: { kty: 'OKP' }, privateKeyEncrypted: 'sealed', createdAt });

  it('the first key becomes current once; a second creation of the pointer is a unique violation and leaves the first', async () => {
    expect(await keys.findCurrentKeyId()).toBeNull();
    const [a, b] = [newKey(), newKey()];
    const create = (key: typeof a) =>
      database.client.$transaction(async (t) => {
        await keys.insertSigningKey(t, key);
        await keys.insertCurrentKeyPointer(t, key.id);
      });
    await create(a);
    const error = await create(b).catch((e: unknown) => e);
    expect(isUniqueViolation(error)).toBe(true);
    expect(await keys.findCurrentKeyId()).toBe(a.id);
    // The loser's key went with its transaction.
    expect(await database.client.signingKey.findUnique({ where: { id: b.id } })).toBeNull();
  });

  it('moveCurrentKeyPointer moves only from the key it names; retireSigningKey keeps the first retirement', async () => {
    const current = (await keys.findCurrentKeyId())!;
    const [next, late] = [newKey(at(1)), newKey(at(1))];
    const rotate = (to: typeof next) =>
      database.client.$transaction(async (t) => {
        if (!(await keys.moveCurrentKeyPointer(t, current, to.id))) return false;
        await keys.insertSigningKey(t, to);
        await keys.retireSigningKey(t, current, to.createdAt);
        return true;
      });
    expect(await Promise.all([rotate(next), rotate(late)]).then((r) => r.filter(Boolean).length)).toBe(1);
    const winner = (await keys.findCurrentKeyId())!;
    expect([next.id, late.id]).toContain(winner);
    expect((await database.client.signingKey.findUniqueOrThrow({ where: { id: current } })).retiredAt).toEqual(at(1));
    await database.client.$transaction((t) => keys.retireSigningKey(t, current, at(30)));
    expect((await database.client.signingKey.findUniqueOrThrow({ where: { id: current } })).retiredAt).toEqual(at(1));
  });
});
