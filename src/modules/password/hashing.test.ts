import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { configuredVerification, watchArgon2 } from '../../../test/helpers/hash-work.js';
import { createPasswordHasher, hashCostProblem, identifyHash } from './hashing.js';

// Low parameters: these tests are about formats, not cost.
const params = { memoryCost: 1024, timeCost: 1, parallelism: 1 };
const hasher = createPasswordHasher(params);

describe('password hashing', () => {
  it('writes argon2id PHC strings carrying their parameters, and verifies them', async () => {
    const hash = await hasher.hash('correct horse');
    expect(hash).toMatch(/^\$argon2id\$v=19\$/);
    for (const param of ['m=1024', 't=1', 'p=1']) expect(hash.split('$')[3].split(',')).toContain(param);
    expect(await hasher.verify(hash, 'correct horse')).toBe(true);
    expect(await hasher.verify(hash, 'correct horsE')).toBe(false);
    expect(hasher.needsRehash(hash)).toBe(false);
  });

  it('asks for a rehash when the parameters or the algorithm differ', async () => {
    const older = await createPasswordHasher({ ...params, timeCost: 2 }).hash('pw');
    expect(hasher.needsRehash(older)).toBe(true);
    const argon2i = await argon2.hash('pw', { type: argon2.argon2i, ...params });
    expect(identifyHash(argon2i)).toBe('argon2i');
    expect(hasher.needsRehash(argon2i)).toBe(true);
    expect(hasher.needsRehash(bcrypt.hashSync('pw', 4))).toBe(true);
  });

  it('verifies imported argon2i/argon2d, bcrypt $2a$/$2b$/$2y$ and Django pbkdf2_sha256 hashes', async () => {
    for (const type of [argon2.argon2i, argon2.argon2d] as const) {
      const h = await argon2.hash('imported', { type, ...params });
      expect(await hasher.verify(h, 'imported')).toBe(true);
      expect(await hasher.verify(h, 'wrong')).toBe(false);
    }
    const b = bcrypt.hashSync('imported', 4); // $2b$
    for (const prefix of ['$2a$', '$2b$', '$2y$']) {
      const h = prefix + b.slice(4);
      expect(identifyHash(h)).toBe('bcrypt');
      expect(await hasher.verify(h, 'imported')).toBe(true);
      expect(await hasher.verify(h, 'imported!')).toBe(false);
    }
    const salt = 'seasalt';
    const django = `pbkdf2_sha256$1000$${salt}$${pbkdf2Sync('imported', salt, 1000, 32, 'sha256').toString('base64')}`;
    expect(identifyHash(django)).toBe('pbkdf2_sha256');
    expect(await hasher.verify(django, 'imported')).toBe(true);
    expect(await hasher.verify(django, 'Imported')).toBe(false);
  });

  it('recognises no other format, and never verifies one, but costs the dummy verification instead', async () => {
    for (const h of ['plain', '$1$abc$def', 'sha1$abc$def', '$2x$04$' + 'a'.repeat(53), '$argon2id$v=16$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA', '$argon2id$v=19$m=1024,t=1$c2FsdHNhbHQ$aGFzaA']) {
      expect(identifyHash(h)).toBeNull();
      const work = watchArgon2();
      try {
        expect(await hasher.verify(h, 'plain')).toBe(false);
        const done = work.take();
        expect(done, h).toEqual([configuredVerification(params)]);
        expect(done[0].against).not.toBe(h);
      } finally {
        work.restore();
      }
    }
  });

  it('names the cost limit a hash breaks, and never verifies one beyond the limits', async () => {
    const phc = (await hasher.hash('pw')).split('$');
    const argon2With = (m: number, t: number, p: number) => [...phc.slice(0, 3), `m=${m},t=${t},p=${p}`, ...phc.slice(4)].join('$');
    const b = bcrypt.hashSync('pw', 4).slice(7);
    const django = (n: number) => `pbkdf2_sha256$${n}$salt$${pbkdf2Sync('pw', 'salt', 1, 32, 'sha256').toString('base64')}`;
    for (const h of [`$2b$04$${b}`, `$2b$16$${b}`, argon2With(524_288, 10, 16), argon2With(8, 1, 1), django(1), django(2_000_000)]) {
      expect(hashCostProblem(h), h).toBeNull();
    }
    for (const [h, limit] of [
      [`$2b$03$${b}`, /bcrypt cost 3 .*4 to 16/],
      [`$2y$17$${b}`, /bcrypt cost 17 .*4 to 16/],
      [argon2With(524_289, 1, 1), /m=524289 KiB .*524288 KiB \(512 MiB\)/],
      [argon2With(1024, 11, 1), /t=11 .*limit of 10/],
      [argon2With(1024, 1, 17), /p=17 .*limit of 16/],
      [argon2With(127, 1, 16), /m=127 KiB .*8 KiB per lane/],
      [django(0), /iterations 0 .*1 to 2000000/],
      [django(2_000_001), /iterations 2000001 .*1 to 2000000/],
    ] as const) {
      expect(identifyHash(h), h).not.toBeNull();
      expect(hashCostProblem(h), h).toMatch(limit);
    }
    // A real digest of the password: it would verify, so false shows it was not computed.
    const real = `pbkdf2_sha256$2000001$salt$${pbkdf2Sync('pw', 'salt', 2_000_001, 32, 'sha256').toString('base64')}`;
    expect(await hasher.verify(real, 'pw')).toBe(false);
  });

  it('verifies against a dummy hash with the configured parameters, and always says no', async () => {
    // Its point is the cost: one real argon2id verification, as expensive as checking a stored hash.
    const work = watchArgon2();
    try {
      expect(await hasher.verifyDummy('anything')).toBe(false);
      expect(await hasher.verifyDummy('anything else')).toBe(false);
      expect(work.take()).toEqual([configuredVerification(params), configuredVerification(params)]);
      // With other parameters configured, the dummy follows them.
      const costlier = { ...params, timeCost: 2 };
      expect(await createPasswordHasher(costlier).verifyDummy('anything')).toBe(false);
      expect(work.take()).toEqual([configuredVerification(costlier)]);
    } finally {
      work.restore();
    }
  });

  it('counts the hashes and verifications in flight (the metrics read it), bcrypt aside', async () => {
    const counting = createPasswordHasher(params);
    const stored = await counting.hash('pw');
    const pbkdf2 = `pbkdf2_sha256$1000$salt$${pbkdf2Sync('pw', 'salt', 1000, 32, 'sha256').toString('base64')}`;
    expect(counting.inFlight()).toBe(0);
    // Started without awaiting: each is counted from its call until it settles.
    const running = [counting.hash('a'), counting.verify(stored, 'pw'), counting.verify(stored, 'no'), counting.verify(pbkdf2, 'pw'), counting.verifyDummy('x')];
    expect(counting.inFlight()).toBe(5);
    const bcryptCheck = counting.verify(bcrypt.hashSync('pw', 4), 'pw');
    expect(counting.inFlight()).toBe(5);
    await Promise.all([...running, bcryptCheck]);
    expect(counting.inFlight()).toBe(0);
    // A call that fails (argon2 refuses a hash this short) is no longer counted either.
    await expect(counting.verify('$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$AAAA', 'pw')).rejects.toThrow();
    expect(counting.inFlight()).toBe(0);
  });
});
