/**
 * The hot request paths of `npm run bench -- hot-paths` (BENCH_GROUPS=requests):
 * login, refreshSession, me, user(id) and verifyTotp on one database, each
 * against its baseline in alternating rounds:
 *
 * - login (password, no MFA) ÷ bare `argon2.verify` with the same parameters
 *   and concurrency (bench/lib.ts bareArgon2), target ≥ 0.85;
 * - refreshSession, me, user(id) and verifyTotp ÷ a bare node:http handler
 *   (a child process: `requests.ts baseline <provider> <database url> <key>`)
 *   that parses the same JSON body, checks the token the same way (an access
 *   token's signature and its session; an API key by its hash), runs the
 *   gateway's statements through the modules' own statement helpers on the
 *   same driver (src/kernel/db/direct.ts), signs what must be signed, and
 *   answers the same JSON;
 * - a reference row, not a target: `{ __typename }` with the same API key ÷
 *   the bare user(id) handler. It resolves nothing, so it is the most any
 *   operation through yoga, validation and execution reaches against a bare
 *   handler here (the GraphQL floor).
 *
 * Data: 1,000 users with a password and a live session (the bench holds
 * their refresh tokens) and 1,000 users with a TOTP method, written through
 * SQL (bench/lib.ts). Each session is refreshed once through the gateway
 * before measuring, which gives the access tokens `me` uses and records each
 * user's active day (later refreshes that day cost no statement, on either
 * side). Refresh tokens rotate: each request takes a session's current token
 * from a queue and a correct answer puts its successor back, so every
 * request presents a live token (an answer lost when a round ends costs that
 * session, out of 1,000). Every answer is judged: a login or refresh must
 * carry a JWT for the right user and a new refresh token, `me` and `user(id)`
 * the right user, verifyTotp a success or a replay refusal (a user already
 * used in this step, after the same work).
 *
 * BENCH_ROWS (login,refresh,me,user,floor,totp; all by default) narrows the run to
 * some rows, e.g. BENCH_ROWS=login while working on sign-in. A narrowed run
 * still seeds everything.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import {
  alternate,
  ARGON2,
  BENCH_PASSWORD,
  bareArgon2,
  benchDatabase,
  ENCRYPTION_KEY,
  GATEWAY_LISTENING,
  gatewayEnv,
  graphqlCall,
  loadProbes,
  gatewayScript,
  seedPasswordUsers,
  seedTotpUsers,
  startChild,
  stopChild,
  totpCodes,
  type Provider,
  type Row,
  resetTotpCounters,
} from '../lib.js';
import type { HotContext, HotGroup, HotRow } from './types.js';

const USERS = 1000;
const ROWS = new Set((process.env.BENCH_ROWS ?? 'login,refresh,me,user,floor,totp').split(',').map((r) => r.trim()));
const ISSUER = 'http://127.0.0.1/bench';
const AUDIENCE = 'portcullis-bench';
const ACCESS_TTL_S = 900;

const Q = {
  login: 'mutation($i: LoginInput!) { login(input: $i) { __typename ... on LoginSuccess { accessToken refreshToken expiresAt } } }',
  refresh: 'mutation($i: RefreshSessionInput!) { refreshSession(input: $i) { __typename ... on RefreshSessionSuccess { accessToken refreshToken expiresAt } } }',
  me: 'query { me { id email displayName state createdAt } }',
  user: 'query($id: ID!) { user(id: $id) { id email displayName state createdAt } }',
  totp: 'mutation($i: VerifyTotpInput!) { verifyTotp(input: $i) { __typename } }',
};

/** The subject of a JWT (not verified: the bench only checks whose token came back). */
function jwtSubject(token: unknown): string | undefined {
  if (typeof token !== 'string') return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    return (JSON.parse(Buffer.from(parts[1], 'base64url').toString()) as { sub?: string }).sub;
  } catch {
    return undefined;
  }
}

function parsed(body: string): any {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

// ── The bare node:http handlers (a child process) ─────────────────────────

async function baselineServer(provider: Provider, databaseUrl: string, keyBase64: string) {
  const { SignJWT, importJWK, jwtVerify, errors: joseErrors } = await import('jose');
  const { createDatabase } = await import('../../src/kernel/db/client.js');
  const { decryptSecret, tokenHash } = await import('../../src/kernel/crypto.js');
  const { newId, newTokenId, randomSecret } = await import('../../src/kernel/ids.js');
  const { createOutbox } = await import('../../src/kernel/events/outbox.js');
  const { createSessionStatements } = await import('../../src/modules/sessions/store.js');
  const { createApiKeyStatements } = await import('../../src/modules/access-tokens/store.js');
  const { createUserStatements } = await import('../../src/modules/users/store.js');
  const { createTotpStore } = await import('../../src/modules/totp/store.js');
  const { createLockoutStore } = await import('../../src/modules/lockout/store.js');
  const { matchTotpStep } = await import('../../src/modules/totp/service.js');
  const database = await createDatabase(provider, databaseUrl);
  const { client: db, direct } = database;
  const key = Buffer.from(keyBase64, 'base64');
  const sessions = createSessionStatements(direct);
  const apiKeys = createApiKeyStatements(direct);
  const users = createUserStatements(direct);
  const totpStore = createTotpStore({ db, direct });
  const lockout = createLockoutStore({ db, direct });
  const outbox = createOutbox({ db, direct, now: () => new Date() });
  const CODE_ATTEMPTS = 1000;

  // Keys imported once, as the gateway caches them; the current key's row is read on every signing, as there.
  const privateKeys = new Map<string, Promise<CryptoKey>>();
  const publicKeys = new Map<string, Promise<CryptoKey>>();
  async function sign(userId: string, sessionId: string, now: Date) {
    const row = (await sessions.findCurrentSigningKey())!;
    let privateKey = privateKeys.get(row.id);
    if (!privateKey) privateKeys.set(row.id, (privateKey = importJWK(JSON.parse(decryptSecret(key, row.privateKeyEncrypted, row.id)), row.alg) as Promise<CryptoKey>));
    const iat = Math.floor(now.getTime() / 1000);
    const token = await new SignJWT({ sid: sessionId })
      .setProtectedHeader({ alg: row.alg, kid: row.id, typ: 'at+jwt' })
      .setSubject(userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ACCESS_TTL_S)
      .setJti(newTokenId())
      .sign(await privateKey);
    return { token, expiresAt: new Date((iat + ACCESS_TTL_S) * 1000).toISOString() };
  }
  async function verificationKey(kid: string) {
    let p = publicKeys.get(kid);
    if (!p) {
      p = db.signingKey.findUniqueOrThrow({ where: { id: kid } }).then((row) => importJWK(row.publicJwk as never, row.alg) as Promise<CryptoKey>);
      publicKeys.set(kid, p);
    }
    return p;
  }
  const bearer = (req: IncomingMessage) => /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const STALE_MS = 60_000;

  /** The API key check: by the SHA-256 of the key, refused when revoked or expired, stamped at most once a minute. */
  async function apiKeyOk(presented: string, now: Date) {
    const row = await apiKeys.findBySecretHash(tokenHash(presented));
    if (!row || row.revokedAt || (row.expiresAt && row.expiresAt <= now)) return false;
    if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > STALE_MS) await apiKeys.stampUsed(row.id, now);
    return true;
  }
  const publicUser = (u: { id: string; email: string | null; displayName: string | null; state: string; createdAt: Date }) => ({
    id: u.id,
    email: u.email,
    displayName: u.displayName,
    state: u.state,
    createdAt: u.createdAt.toISOString(),
  });

  const handlers: Record<string, (req: IncomingMessage, body: any) => Promise<unknown>> = {
    async '/refresh'(_req, body) {
      const presented = String(body.variables.i.refreshToken);
      const now = new Date();
      const row = presented.startsWith('pcr_') ? await sessions.findRefreshToken(tokenHash(presented)) : null;
      const s = row?.session;
      if (!row || !s || row.usedAt || s.revokedAt || s.expiresAt <= now || s.user.state !== 'ACTIVE') return { refreshSession: { __typename: 'InvalidTokenError' } };
      const next = `pcr_${randomSecret(32)}`;
      const consumed = await sessions.rotateRefreshToken(
        { id: row.id, at: now },
        { id: newId('RefreshToken'), sessionId: s.id, tokenHash: tokenHash(next) },
        { ip: '127.0.0.1', organizationId: s.organizationId },
      );
      if (!consumed) return { refreshSession: { __typename: 'RefreshTokenReusedError' } };
      const access = await sign(s.userId, s.id, now);
      return { refreshSession: { __typename: 'RefreshSessionSuccess', accessToken: access.token, refreshToken: next, expiresAt: access.expiresAt } };
    },
    async '/me'(req) {
      let payload;
      try {
        ({ payload } = await jwtVerify(
          bearer(req),
          async (header) => {
            if (!header.kid) throw new joseErrors.JWKSNoMatchingKey();
            return verificationKey(header.kid);
          },
          { issuer: ISSUER, audience: AUDIENCE, algorithms: ['EdDSA', 'ES256'], typ: 'at+jwt' },
        ));
      } catch {
        return { me: null };
      }
      const now = new Date();
      const session = await sessions.findSession(String(payload.sid));
      if (!session || session.userId !== payload.sub || session.revokedAt || session.expiresAt <= now || session.user.state !== 'ACTIVE') return { me: null };
      if (now.getTime() - session.lastSeenAt.getTime() > STALE_MS) await sessions.stampSessionSeen(String(payload.sid), now);
      const user = await users.findUser(String(payload.sub));
      return { me: user && publicUser(user) };
    },
    async '/user'(req, body) {
      if (!(await apiKeyOk(bearer(req), new Date()))) return { user: null };
      const user = await users.findUser(String(body.variables.id));
      return { user: user && publicUser(user) };
    },
    async '/totp'(req, body) {
      const now = new Date();
      if (!(await apiKeyOk(bearer(req), now))) return { verifyTotp: null };
      const { userId, code } = body.variables.i as { userId: string; code: string };
      const methods = await totpStore.findVerifiedCodeFactors(userId);
      const totp = methods.find((m) => m.kind === 'TOTP');
      const reserved = await lockout.reserveAttempt(userId, 'code', CODE_ATTEMPTS, undefined, now);
      if (!totp?.secret || !reserved) return { verifyTotp: { __typename: 'NoTotpError' } };
      const meta = { actor: { type: 'api_key' as const }, ip: '127.0.0.1' };
      const step = matchTotpStep(decryptSecret(key, totp.secret, totp.id), code, now, 1);
      if (step === null) return { verifyTotp: { __typename: 'IncorrectCodeError' } };
      const accepted = await lockout.commitIfChanged(totpStore.takeTotpStep(totp.id, step, now), [
        outbox.statement({ type: 'user.totp_verified', userId, data: { kind: 'TOTP' } }, meta),
        lockout.resetAttemptsStatement(userId, 'code'),
      ]);
      if (accepted) return { verifyTotp: { __typename: 'VerifyTotpSuccess' } };
      await outbox.append({ type: 'user.totp_verification_failed', userId, data: { reason: 'replay' } }, meta);
      return { verifyTotp: { __typename: 'CodeAlreadyUsedError' } };
    },
  };

  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      try {
        const handler = handlers[req.url ?? ''];
        if (!handler) return void res.writeHead(404).end();
        const data = await handler(req, JSON.parse(raw));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data }));
      } catch (error) {
        res.writeHead(500).end(String(error));
      }
    });
  });
  server.listen(0, '127.0.0.1', () => console.log(`baseline listening on http://127.0.0.1:${(server.address() as { port: number }).port}`));
  process.on('SIGTERM', () => server.close(() => database.close().then(() => process.exit(0))));
}

// ── The rows ───────────────────────────────────────────────────────────────

export const run: HotGroup = async (ctx: HotContext) => {
  const { provider, log } = ctx;
  const { databaseUrl, dataDir, cleanup } = await benchDatabase(provider);
  const env = {
    ...gatewayEnv({ databaseUrl, dataDir }),
    LOG_LEVEL: 'warn',
    PORTCULLIS_ISSUER: ISSUER,
    PORTCULLIS_AUDIENCE: AUDIENCE,
    PORTCULLIS_ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TTL_S),
    PORTCULLIS_ARGON2_MEMORY_KIB: String(ARGON2.memoryCost),
    PORTCULLIS_ARGON2_ITERATIONS: String(ARGON2.timeCost),
    PORTCULLIS_ARGON2_PARALLELISM: String(ARGON2.parallelism),
    // One client address sends everything: the per-address and per-identifier sign-in limits are off.
    PORTCULLIS_PUBLIC_RATE_LIMIT: '0',
    PORTCULLIS_LOGIN_IDENTIFIER_RATE_LIMIT: '0',
    PORTCULLIS_LOCKOUT_CODE_ATTEMPTS: '1000',
  };
  const gateway = await startChild([gatewayScript(), 'start'], env, GATEWAY_LISTENING);
  let baseline: { child: ChildProcess; url: string } | undefined;
  const rows: HotRow[] = [];
  try {
    const url = gateway.url;
    const created = await graphqlCall(url, 'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { ... on CreateApiKeySuccess { key } } }', {
      i: { name: 'bench', scopes: ['users:read', 'credentials:verify'] },
    });
    const apiKey = created.createApiKey.key as string;
    const people = await seedPasswordUsers(provider, databaseUrl, USERS);
    const totpUsers = await seedTotpUsers(provider, databaseUrl, USERS);
    // One refresh per session through the gateway: the access tokens for `me`, and each user's active day recorded.
    const sessions = people.map((p) => ({ userId: p.id, email: p.email, refreshToken: p.refreshToken, accessToken: '' }));
    for (let i = 0; i < sessions.length; i += 20) {
      await Promise.all(
        sessions.slice(i, i + 20).map(async (s) => {
          const r = (await graphqlCall(url, Q.refresh, { i: { refreshToken: s.refreshToken } })).refreshSession;
          if (r.__typename !== 'RefreshSessionSuccess') throw new Error(`seeding refresh: ${JSON.stringify(r)}`);
          Object.assign(s, { refreshToken: r.refreshToken, accessToken: r.accessToken });
        }),
      );
    }
    log(`seeded ${USERS} password users with sessions and ${USERS} TOTP users`);
    baseline = await startChild(['--import', 'tsx', 'bench/hot-paths/requests.ts', 'baseline', provider, databaseUrl, ENCRYPTION_KEY], {}, /baseline listening on (\S+)/);
    const bare = baseline;
    const opts = { durationS: ctx.durationS, rounds: ctx.rounds, warmupS: ctx.warmupS };
    const side = <P extends { body: string }>(name: string, target: string, pid: number, headers: Record<string, string>, probes: P[] | (() => P), answered: (status: number, body: string, probe: P) => boolean) =>
      (seconds: number) => loadProbes({ name, seconds, url: target, headers, probes, serverPid: pid, connections: ctx.connections, answered });
    const row = (operation: string, target: string, [gatewayRow, baselineRow]: [Row, Row], min: number): HotRow => {
      const ratio = gatewayRow.rps / baselineRow.rps;
      const r: HotRow = { provider, operation, gateway: gatewayRow, baseline: baselineRow, ratio, target, met: ratio >= min && gatewayRow.ok === gatewayRow.total };
      log(`${operation}: ${gatewayRow.rps.toFixed(1)} vs ${baselineRow.rps.toFixed(1)} req/s = ${ratio.toFixed(2)} (${target}); CPU main ${gatewayRow.cpu?.main.toFixed(2)} vs ${baselineRow.cpu?.main.toFixed(2)} ms/req; ${gatewayRow.ok}/${gatewayRow.total} right`);
      return r;
    };
    const gw = gateway.child.pid!;
    const bp = bare.child.pid!;

    // login ÷ bare argon2.verify
    if (ROWS.has('login')) {
      const loginProbes = people.map((p) => ({ userId: p.id, body: JSON.stringify({ query: Q.login, variables: { i: { identifier: p.email, password: BENCH_PASSWORD } } }) }));
      const signedIn = (status: number, body: string, probe: { userId: string }) => {
        const r = parsed(body)?.data?.login;
        return status === 200 && r?.__typename === 'LoginSuccess' && jwtSubject(r.accessToken) === probe.userId && String(r.refreshToken).startsWith('pcr_');
      };
      const login = await alternate(side('login', url, gw, {}, loginProbes, signedIn), (sec) => bareArgon2('bare argon2.verify', sec, ctx.connections), opts);
      rows.push(row('login (password, no MFA)', '≥ 0.85', login, 0.85));
    }

    // refreshSession: each request presents a session's live token; a right answer puts its successor back.
    if (ROWS.has('refresh')) {
      const live = sessions.map((s) => ({ userId: s.userId, token: s.refreshToken }));
      const nextRefresh = () => {
        const s = live.shift();
        if (!s) throw new Error('every session is in flight or lost');
        return { userId: s.userId, body: JSON.stringify({ query: Q.refresh, variables: { i: { refreshToken: s.token } } }) };
      };
      const refreshed = (status: number, body: string, probe: { userId: string }) => {
        const r = parsed(body)?.data?.refreshSession;
        const ok = status === 200 && r?.__typename === 'RefreshSessionSuccess' && jwtSubject(r.accessToken) === probe.userId && String(r.refreshToken).startsWith('pcr_');
        if (ok) live.push({ userId: probe.userId, token: r.refreshToken });
        return ok;
      };
      rows.push(row('refreshSession', '≥ 0.5', await alternate(side('refreshSession', url, gw, {}, nextRefresh, refreshed), side('bare node:http', `${bare.url}/refresh`, bp, {}, nextRefresh, refreshed), opts), 0.5));
      log(`${live.length} of ${USERS} sessions still live after refreshSession`);
    }

    // me (access token): the header carries the token, so each probe is a request with its own header.
    let nextMe = 0;
    const meBody = JSON.stringify({ query: Q.me });
    const meProbe = () => {
      const s = sessions[nextMe++ % sessions.length];
      return { userId: s.userId, email: s.email, body: meBody, token: s.accessToken };
    };
    const meAnswered = (status: number, body: string, probe: { userId: string; email: string }) => {
      const u = parsed(body)?.data?.me;
      return status === 200 && u?.id === probe.userId && u?.email === probe.email;
    };
    if (ROWS.has('me')) rows.push(row('me (access token)', '≥ 0.5', await alternate(meSide('me', url, gw), meSide('bare node:http', `${bare.url}/me`, bp), opts), 0.5));
    function meSide(name: string, target: string, pid: number) {
      return (seconds: number) => loadProbes({ name, seconds, url: target, headers: {}, probes: meProbe, serverPid: pid, connections: ctx.connections, answered: meAnswered, authorization: (p) => `Bearer ${p.token}` });
    }

    // user(id) (API key)
    const userProbes = people.map((p) => ({ userId: p.id, email: p.email, body: JSON.stringify({ query: Q.user, variables: { id: p.id } }) }));
    const userAnswered = (status: number, body: string, probe: { userId: string; email: string }) => {
      const u = parsed(body)?.data?.user;
      return status === 200 && u?.id === probe.userId && u?.email === probe.email;
    };
    const auth = { authorization: `Bearer ${apiKey}` };
    if (ROWS.has('user')) rows.push(row('user(id) (API key)', '≥ 0.5', await alternate(side('user(id)', url, gw, auth, userProbes, userAnswered), side('bare node:http', `${bare.url}/user`, bp, auth, userProbes, userAnswered), opts), 0.5));
    // The GraphQL floor: the same key and HTTP path with nothing to resolve, against the same bare handler. What yoga,
    // validation and execution leave of the bare handler's rate; no operation through them reaches more.
    if (ROWS.has('floor')) {
      const empty = [{ body: JSON.stringify({ query: '{ __typename }' }) }];
      const typename = (status: number, body: string) => status === 200 && body === '{"data":{"__typename":"Query"}}';
      const pair = await alternate(side('{ __typename }', url, gw, auth, empty, typename), side('bare node:http', `${bare.url}/user`, bp, auth, userProbes, userAnswered), opts);
      rows.push({ ...row('the GraphQL floor: { __typename } ÷ bare user(id)', 'reference', pair, 0), reference: true });
    }

    // verifyTotp (replay protection and its event): the next user with the code of the current step.
    const codeFor = totpCodes(totpUsers);
    let nextTotp = 0;
    const totpProbe = () => {
      const i = nextTotp++ % totpUsers.length;
      return { body: JSON.stringify({ query: Q.totp, variables: { i: { userId: totpUsers[i].id, code: codeFor(i) } } }) };
    };
    const checked = (status: number, body: string) => {
      const t = parsed(body)?.data?.verifyTotp?.__typename;
      return status === 200 && (t === 'VerifyTotpSuccess' || t === 'CodeAlreadyUsedError');
    };
    if (ROWS.has('totp')) rows.push(
      row(
        'verifyTotp',
        '≥ 0.4',
        await alternate(side('verifyTotp', url, gw, auth, totpProbe, checked), side('bare node:http', `${bare.url}/totp`, bp, auth, totpProbe, checked), {
          ...opts,
          before: () => resetTotpCounters(provider, databaseUrl),
        }),
        0.4,
      ),
    );
  } finally {
    await stopChild(gateway.child);
    if (baseline) await stopChild(baseline.child);
    await cleanup();
  }
  return rows;
};


if (process.argv[2] === 'baseline') await baselineServer(process.argv[3] as Provider, process.argv[4], process.argv[5]);
