/**
 * Access token verification refuses everything but a token this gateway
 * signed for this audience, unexpired, whose session is live: forged keys,
 * `alg: none`, another issuer or audience, a session of another user.
 */
import { generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/helpers/app.js';
import { systemMeta } from '../../kernel/events/outbox.js';
import { manualClock } from '../../kernel/clock.js';
import type { SessionService } from './service.js';

const clock = manualClock();
let t: TestApp;
let sessions: SessionService;
let userId: string;
let otherUserId: string;

beforeAll(async () => {
  t = await createTestApp({ clock, env: { PORTCULLIS_ISSUER: 'https://id.example.test', PORTCULLIS_AUDIENCE: 'api', PORTCULLIS_ACCESS_TOKEN_TTL_SECONDS: '60' } });
  sessions = t.app.services.sessions;
  userId = (await t.app.services.users.createUser({ email: 'tok@example.com' }, systemMeta)).id;
  otherUserId = (await t.app.services.users.createUser({ email: 'tok2@example.com' }, systemMeta)).id;
});
afterAll(() => t.close());

/** A token like the gateway's, with some claims or the key changed. */
async function forge(claims: { sub?: string; sid?: string; iss?: string; aud?: string }, key?: CryptoKey, kid?: string) {
  const current = await t.app.services.signingKeys.currentSigningKey();
  const iat = Math.floor(clock.now().getTime() / 1000);
  return new SignJWT({ sid: claims.sid })
    .setProtectedHeader({ alg: 'EdDSA', kid: kid ?? current.kid, typ: 'at+jwt' })
    .setSubject(claims.sub ?? userId)
    .setIssuer(claims.iss ?? 'https://id.example.test')
    .setAudience(claims.aud ?? 'api')
    .setIssuedAt(iat)
    .setExpirationTime(iat + 60)
    .sign(key ?? current.privateKey);
}

describe('access tokens', () => {
  it('accept a token from createSession and name its user and session', async () => {
    const s = await sessions.createSession(userId, { name: 'unit' }, systemMeta);
    expect(await sessions.authenticateAccessToken(s.accessToken)).toMatchObject({ userId, sessionId: s.sessionId, user: { id: userId, state: 'ACTIVE' } });
    expect(await sessions.authenticateAccessToken(await forge({ sid: s.sessionId }))).toMatchObject({ userId, sessionId: s.sessionId, user: { id: userId } });
  });

  it("read the session's user as Prisma reads it: every column, in its types (what `me` answers with)", async () => {
    await t.app.services.users.updateUser(userId, { displayName: 'Tok', publicMetadata: { plan: 'pro', seats: 3 } }, systemMeta);
    await t.app.database.client.user.update({ where: { id: userId }, data: { lastActiveAt: new Date('2026-02-03T00:00:00Z'), lastLoginAt: new Date('2026-02-03T04:05:06.789Z') } });
    const s = await sessions.createSession(userId, { name: 'unit' }, systemMeta);
    const found = await sessions.authenticateAccessToken(s.accessToken);
    expect(found?.user).toEqual(await t.app.database.client.user.findUniqueOrThrow({ where: { id: userId } }));
  });

  it('refuse forged keys, alg none, other issuers and audiences, and sessions of other users', async () => {
    const s = await sessions.createSession(userId, { name: 'unit' }, systemMeta);
    const mallory = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const unsecured = new UnsecuredJWT({ sid: s.sessionId }).setSubject(userId).setIssuer('https://id.example.test').setAudience('api').setExpirationTime('1h').encode();
    for (const token of [
      await forge({ sid: s.sessionId }, mallory.privateKey),
      unsecured,
      await forge({ sid: s.sessionId, iss: 'https://evil.example' }),
      await forge({ sid: s.sessionId, aud: 'other-api' }),
      await forge({ sid: s.sessionId, sub: otherUserId }),
      await forge({}),
      await forge({ sid: s.sessionId }, undefined, 'sk_00000000000000000000000000'),
      'not.a.jwt',
    ]) {
      expect(await sessions.authenticateAccessToken(token)).toBeNull();
    }
  });

  it('refuse a token after it expires, and at once after its session is revoked', async () => {
    const a = await sessions.createSession(userId, { name: 'unit' }, systemMeta);
    clock.advance(61_000);
    expect(await sessions.authenticateAccessToken(a.accessToken)).toBeNull();
    const b = await sessions.createSession(userId, { name: 'unit' }, systemMeta);
    await sessions.revokeSession(b.sessionId, systemMeta);
    expect(await sessions.authenticateAccessToken(b.accessToken)).toBeNull();
  });

  it('store only hashes of refresh tokens', async () => {
    const s = await sessions.createSession(userId, { name: 'unit' }, systemMeta);
    const rows = await t.app.database.client.refreshToken.findMany({ where: { sessionId: s.sessionId } });
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(s.refreshToken.slice(4));
  });
});
