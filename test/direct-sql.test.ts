/**
 * The statements that go straight to the driver (src/kernel/db/direct.ts) must be
 * indistinguishable from Prisma's: the same values read back, dates written
 * in the form Prisma compares, atomic pairs that roll back together, and on
 * SQLite, where the connection is shared, no statement landing inside a
 * Prisma transaction that then rolls back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Db } from '../src/kernel/db/client.js';
import { PLAN_EACH_CALL, type DirectSql } from '../src/kernel/db/direct.js';
import { EVENT_ROW, USER_COLUMNS, USER_ROW } from '../src/kernel/db/rows.js';
import { newId } from '../src/kernel/ids.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { testProvider } from './helpers/db.js';

let t: TestApp;
let db: Db;
let direct: DirectSql;

beforeAll(async () => {
  t = await createTestApp();
  db = t.app.database.client;
  direct = t.app.database.direct;
});
afterAll(() => t.close());

async function newUser(data: Record<string, unknown> = {}) {
  const id = newId('User');
  const email = `${id}@example.com`;
  return db.user.create({ data: { id, email, emailNormalized: email, ...data } });
}

describe('direct statements', () => {
  it('read every column of a user and of an event as Prisma does', async () => {
    const at = (s: number) => new Date(Date.UTC(2026, 0, 2, 3, 4, s, 567));
    const user = await newUser({
      emailVerifiedAt: at(1),
      phone: '+4915112345678',
      phoneVerifiedAt: at(2),
      username: 'every-column',
      usernameNormalized: 'every-column',
      givenName: 'Ada',
      familyName: 'Lovelace',
      displayName: 'Ada L.',
      state: 'LOCKED',
      lockedReason: 'admin',
      lockedUntil: at(3),
      failedPasswordAttempts: 2,
      failedCodeAttempts: 3,
      passwordChangedAt: at(4),
      passwordMustChange: true,
      lastLoginAt: at(5),
      lastLoginDevice: 'test',
      publicMetadata: { plan: 'pro', tags: ['a', 'b'], nested: { n: 1.5, ok: false } },
      privateMetadata: { crm: 'A-1' },
      unsafeMetadata: { theme: 'dark' },
    });
    // The model's columns: PostgreSQL's table also holds the search migration's generated column, which Prisma never reads.
    const [row] = await direct.all(`SELECT ${USER_COLUMNS} FROM "User" WHERE "id" = ?`, [user.id], USER_ROW);
    expect(row).toEqual(await db.user.findUnique({ where: { id: user.id } }));

    const event = await db.event.create({
      data: { id: newId('UserEvent'), type: 'user.updated', userId: user.id, actorType: 'system', data: { changed: ['email'], n: 2 }, occurredAt: at(6) },
    });
    const [eventRow] = await direct.all('SELECT * FROM "Event" WHERE "seq" = ?', [event.seq], EVENT_ROW);
    expect(eventRow).toEqual(event);
  });

  it('write dates that Prisma reads back unchanged and compares in order', async () => {
    const user = await newUser({ state: 'LOCKED' });
    const until = new Date(Date.UTC(2026, 5, 7, 8, 9, 10, 11));
    expect(await direct.run('UPDATE "User" SET "lockedUntil" = ? WHERE "id" = ?', [until, user.id])).toBe(1);
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).lockedUntil).toEqual(until);
    // Comparisons in SQL must agree with time order (SQLite compares the stored text).
    const found = (ms: number) => db.user.count({ where: { id: user.id, lockedUntil: { lte: new Date(until.getTime() + ms) } } });
    expect(await found(1)).toBe(1);
    expect(await found(0)).toBe(1);
    expect(await found(-1)).toBe(0);
  });

  it('commit a pair together or not at all', async () => {
    const user = await newUser();
    const taken = await db.event.create({ data: { id: newId('UserEvent'), type: 'user.updated', data: {} } });
    const insert = 'INSERT INTO "Event" ("id", "type", "data", "occurredAt") VALUES (?, ?, ?, ?) RETURNING "seq"';
    const bump = { sql: 'UPDATE "User" SET "failedCodeAttempts" = 7 WHERE "id" = ?', params: [user.id] };
    // The second statement fails (the event id is taken): the first is undone with it.
    await expect(direct.allAfter(bump, insert, [taken.id, 'user.updated', '{}', new Date()])).rejects.toThrow();
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).failedCodeAttempts).toBe(0);
    const [{ seq }] = await direct.allAfter<{ seq: number }>(bump, insert, [newId('UserEvent'), 'user.updated', '{}', new Date()]);
    expect(seq).toBeGreaterThan(taken.seq);
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).failedCodeAttempts).toBe(7);
  });

  it('run a conditional write with its companions only when it changed a row, and all or nothing', async () => {
    const user = await newUser();
    const take = (step: number) => ({ sql: 'UPDATE "User" SET "failedCodeAttempts" = ? WHERE "id" = ? AND "failedCodeAttempts" < ?', params: [step, user.id, step] });
    const note = (name: string) => ({ sql: 'UPDATE "User" SET "givenName" = ? WHERE "id" = ?', params: [name, user.id] });
    const givenName = async () => (await db.user.findUniqueOrThrow({ where: { id: user.id } })).givenName;
    expect(await direct.runIfChanged(take(5), [note('five')])).toBe(true);
    expect(await direct.runIfChanged(take(5), [note('five again')])).toBe(false);
    expect(await givenName()).toBe('five');
    // A companion fails (the event id is taken): the conditional write is undone too.
    const taken = await db.event.create({ data: { id: newId('UserEvent'), type: 'user.updated', data: {} } });
    const insert = { sql: 'INSERT INTO "Event" ("id", "type", "data", "occurredAt") VALUES (?, ?, ?, ?) RETURNING "seq"', params: [taken.id, 'user.updated', '{}', new Date()] };
    await expect(direct.runIfChanged(take(6), [note('six'), insert])).rejects.toThrow();
    expect(await db.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({ failedCodeAttempts: 5, givenName: 'five' });
    // The connection is usable afterwards.
    expect(await direct.runIfChanged(take(6), [note('six')])).toBe(true);
    expect(await givenName()).toBe('six');
  });

  it('run a conditional write with RETURNING and its companions, resolving with its rows, all or nothing', async () => {
    const [user, other] = [await newUser(), await newUser()];
    const take = (step: number) => ({ sql: 'UPDATE "User" SET "failedCodeAttempts" = ? WHERE "id" = ? AND "failedCodeAttempts" < ? RETURNING "failedCodeAttempts", "emailNormalized"', params: [step, user.id, step] });
    const note = (name: string) => ({ sql: 'UPDATE "User" SET "givenName" = ? WHERE "id" = ?', params: [name, other.id] });
    const givenName = async () => (await db.user.findUniqueOrThrow({ where: { id: other.id } })).givenName;
    expect(await direct.allIfChanged(take(5), [note('five')])).toEqual([{ failedCodeAttempts: 5, emailNormalized: user.emailNormalized }]);
    expect(await direct.allIfChanged(take(5), [note('five again')])).toEqual([]);
    expect(await givenName()).toBe('five');
    // A companion fails (the event id is taken): the conditional write is undone too.
    const taken = await db.event.create({ data: { id: newId('UserEvent'), type: 'user.updated', data: {} } });
    const insert = { sql: 'INSERT INTO "Event" ("id", "type", "data", "occurredAt") VALUES (?, ?, ?, ?) RETURNING "seq"', params: [taken.id, 'user.updated', '{}', new Date()] };
    await expect(direct.allIfChanged(take(6), [note('six'), insert])).rejects.toThrow();
    expect(await db.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({ failedCodeAttempts: 5 });
    expect(await givenName()).toBe('five');
    // The connection is usable afterwards.
    expect(await direct.allIfChanged(take(6), [note('six')])).toHaveLength(1);
    expect(await givenName()).toBe('six');
  });

  it('never land inside a Prisma transaction that rolls back', async () => {
    const [a, b] = [await newUser(), await newUser()];
    let settled = false;
    let write: Promise<number> | undefined;
    await db
      .$transaction(async (tx) => {
        await tx.user.update({ where: { id: a.id }, data: { givenName: 'rolled back' } });
        write = direct.run('UPDATE "User" SET "givenName" = ? WHERE "id" = ?', ['kept', b.id]).finally(() => (settled = true));
        await new Promise((r) => setTimeout(r, 50));
        // SQLite shares one connection: the statement waits for the transaction to end.
        if (testProvider === 'sqlite') expect(settled).toBe(false);
        throw new Error('roll back');
      })
      .catch((error: Error) => expect(error.message).toBe('roll back'));
    expect(await write).toBe(1);
    expect((await db.user.findUniqueOrThrow({ where: { id: a.id } })).givenName).toBeNull();
    expect((await db.user.findUniqueOrThrow({ where: { id: b.id } })).givenName).toBe('kept');
  });

  it('work before Prisma has run a query of its own', async () => {
    const fresh = await createDatabase(testProvider, t.db.url);
    try {
      const [row] = await fresh.direct.all<{ n: number }>('SELECT COUNT(*) AS "n" FROM "User"', []);
      expect(Number(row.n)).toBe(await db.user.count());
    } finally {
      await fresh.close();
    }
  });

  it('send a statement marked PLAN_EACH_CALL unnamed, to be planned for its parameters, and the others prepared once', async () => {
    // One connection, so PostgreSQL's list of this session's prepared statements is the pool's.
    const single = await createDatabase(testProvider, t.db.url, { pool: { size: 1, acquireTimeoutMs: 5_000, statementTimeoutMs: 0, idleInTransactionTimeoutMs: 0 } });
    try {
      const user = await newUser({ givenName: 'Planned' });
      const sql = 'SELECT "id" FROM "User" WHERE "givenName" LIKE ?';
      for (let i = 0; i < 3; i++) {
        expect(await single.direct.all(`${PLAN_EACH_CALL}${sql}`, ['Plan%'])).toEqual([{ id: user.id }]);
        expect(await single.direct.all(sql, ['Plan%'])).toEqual([{ id: user.id }]);
      }
      if (testProvider !== 'postgresql') return;
      const prepared = await single.direct.all<{ statement: string }>('SELECT "statement" FROM pg_prepared_statements', []);
      const texts = prepared.map((p) => p.statement);
      expect(texts).toContain('SELECT "id" FROM "User" WHERE "givenName" LIKE $1');
      expect(texts.filter((s) => s.includes('plan each call'))).toEqual([]);
    } finally {
      await single.close();
    }
  });

  it('bind values, so quotes in input stay data', async () => {
    const user = await newUser();
    const name = `O'Brien"; DROP TABLE "User"; --`;
    await direct.run('UPDATE "User" SET "familyName" = ? WHERE "id" = ?', [name, user.id]);
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).familyName).toBe(name);
  });
});

describe('direct statements of sign-in, refresh and authenticated requests', () => {
  it('commit several writes (each to its own row) before a read together or not at all', async () => {
    const user = await newUser();
    const other = await newUser();
    const taken = await db.event.create({ data: { id: newId('UserEvent'), type: 'user.updated', data: {} } });
    const insert = 'INSERT INTO "Event" ("id", "type", "data", "occurredAt") VALUES (?, ?, ?, ?) RETURNING "seq"';
    const writes = [
      { sql: 'UPDATE "User" SET "failedCodeAttempts" = 4 WHERE "id" = ?', params: [user.id] },
      { sql: 'UPDATE "User" SET "givenName" = ? WHERE "id" = ?', params: ['both', other.id] },
    ];
    const state = async () => [(await db.user.findUniqueOrThrow({ where: { id: user.id } })).failedCodeAttempts, (await db.user.findUniqueOrThrow({ where: { id: other.id } })).givenName];
    await expect(direct.allAfter(writes, insert, [taken.id, 'user.updated', '{}', new Date()])).rejects.toThrow();
    expect(await state()).toEqual([0, null]);
    await direct.allAfter(writes, insert, [newId('UserEvent'), 'user.updated', '{}', new Date()]);
    expect(await state()).toEqual([4, 'both']);
  });

  it('read a session, a refresh token and a user as Prisma does, and rotate a refresh token once', async () => {
    const { createSessionStatements } = await import('../src/modules/sessions/store.js');
    const { createUserStatements } = await import('../src/modules/users/store.js');
    const statements = createSessionStatements(direct);
    const user = await newUser({ state: 'LOCKED', lockedUntil: new Date(Date.UTC(2026, 5, 1, 0, 0, 0, 123)), publicMetadata: { a: [1] } });
    expect(await createUserStatements(direct).findUser(user.id)).toEqual(await db.user.findUnique({ where: { id: user.id } }));
    const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
    const session = await db.session.create({ data: { id: newId('Session'), userId: user.id, expiresAt: new Date(at.getTime() + 3_600_000), lastSeenAt: at, organizationId: null } });
    const token = await db.refreshToken.create({ data: { id: newId('RefreshToken'), sessionId: session.id, tokenHash: `hash-${session.id}` } });
    const prisma = await db.refreshToken.findUniqueOrThrow({ where: { id: token.id }, include: { session: { include: { user: { select: { state: true, lockedUntil: true } } } } } });
    const read = await statements.findRefreshToken(token.tokenHash);
    expect(read).toEqual({
      id: prisma.id,
      usedAt: prisma.usedAt,
      session: {
        id: session.id,
        userId: user.id,
        revokedAt: prisma.session.revokedAt,
        revokedReason: prisma.session.revokedReason,
        expiresAt: prisma.session.expiresAt,
        organizationId: null,
        user: prisma.session.user,
      },
    });
    expect(await statements.findSession(session.id)).toEqual({ userId: user.id, revokedAt: null, expiresAt: session.expiresAt, lastSeenAt: at, user: prisma.session.user });

    const later = new Date(at.getTime() + 1000);
    const rotate = (id: string) => statements.rotateRefreshToken({ id: token.id, at: later }, { id, sessionId: session.id, tokenHash: `hash-${id}` }, { ip: '192.0.2.1', organizationId: null });
    const results = await Promise.all([rotate(newId('RefreshToken')), rotate(newId('RefreshToken'))]);
    expect(results.sort()).toEqual([false, true]);
    expect(await db.refreshToken.count({ where: { sessionId: session.id } })).toBe(2);
    expect(await db.refreshToken.findUniqueOrThrow({ where: { id: token.id } })).toMatchObject({ usedAt: later });
    expect(await db.session.findUniqueOrThrow({ where: { id: session.id } })).toMatchObject({ lastSeenAt: later, ip: '192.0.2.1' });
  });

  it('open a session only for a user still active, with its refresh token and event (reading the current signing key), or write nothing', async () => {
    const { createSessionStatements, CURRENT_KEY } = await import('../src/modules/sessions/store.js');
    const statements = createSessionStatements(direct);
    const now = new Date(Date.UTC(2026, 0, 3, 0, 0, 0, 1));
    const open = async (userId: string) => {
      const id = newId('Session');
      const event = { sql: 'INSERT INTO "Event" ("id", "type", "userId", "data", "occurredAt") VALUES (?, ?, ?, ?, ?) RETURNING "seq"', params: [newId('UserEvent'), 'user.logged_in', userId, '{}', now] };
      const session = { id, userId, device: 'd', ip: null, userAgent: null, createdAt: now, authenticatedAt: now, lastSeenAt: now, expiresAt: new Date(now.getTime() + 1000), organizationId: null };
      return { id, opened: await statements.openSession(session, { id: newId('RefreshToken'), tokenHash: `hash-${id}` }, [event]) };
    };
    const active = await newUser();
    const kid = await t.app.services.signingKeys.ensureSigningKey();
    expect((await db.systemState.findUniqueOrThrow({ where: { key: CURRENT_KEY } })).value).toBe(kid);
    const a = await open(active.id);
    expect(a.opened).toEqual({ passwordMustChange: false, signingKeyId: kid });
    expect(await db.user.findUniqueOrThrow({ where: { id: active.id } })).toMatchObject({ lastLoginAt: now, lastLoginDevice: 'd' });
    expect(await db.refreshToken.count({ where: { sessionId: a.id } })).toBe(1);
    expect(await db.event.count({ where: { userId: active.id, type: 'user.logged_in' } })).toBe(1);

    const inactive = await newUser({ state: 'INACTIVE' });
    const b = await open(inactive.id);
    expect(b.opened).toBeNull();
    expect(await db.session.count({ where: { userId: inactive.id } })).toBe(0);
    expect(await db.event.count({ where: { userId: inactive.id } })).toBe(0);
    expect((await db.user.findUniqueOrThrow({ where: { id: inactive.id } })).lastLoginAt).toBeNull();
  });
});
