/**
 * Password hashing: argon2id for every hash we write, and verification of the
 * formats users bring from other systems, so they can migrate without a reset:
 *
 * - argon2 PHC strings (`$argon2id$`, `$argon2i$`, `$argon2d$`, version 0x13);
 * - bcrypt (`$2a$`, `$2b$`, `$2y$`), via bcryptjs;
 * - Django's PBKDF2 (`pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`).
 *
 * A stored hash carries its algorithm and parameters, so `needsRehash` can
 * tell one written with older parameters (or another algorithm) and the
 * password service upgrades it after the next successful verification.
 * Those parameters also set the cost of every verification, so a hash beyond
 * the limits in password-hash-limits.ts is refused at import and never
 * verified (`hashCostProblem`).
 * argon2 and PBKDF2 run on libuv's thread pool; the event loop never blocks.
 * The hasher counts the pool work it has started and not yet seen finish
 * (`inFlight`), for the metrics: more than the pool has threads means hashes
 * are waiting for one.
 */
import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { inSpan } from '../../kernel/tracing.js';
import {
  ARGON2_MAX_MEMORY_KIB,
  ARGON2_MAX_PARALLELISM,
  ARGON2_MAX_TIME_COST,
  ARGON2_MIN_MEMORY_KIB_PER_LANE,
  BCRYPT_MAX_COST,
  BCRYPT_MIN_COST,
  PBKDF2_MAX_ITERATIONS,
  PBKDF2_MIN_ITERATIONS,
} from './hash-limits.js';

export interface Argon2Params {
  /** KiB */
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export type HashFormat = 'argon2id' | 'argon2i' | 'argon2d' | 'bcrypt' | 'pbkdf2_sha256';

const pbkdf2Async = promisify(pbkdf2);

// Parameters appear in any order (node-argon2 writes m,p,t; the reference implementation m,t,p).
const PHC = /^\$(argon2id|argon2i|argon2d)\$v=(\d+)\$([a-z]+=[^,$]+(?:,[a-z]+=[^,$]+)*)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

/** An argon2 PHC string's algorithm, version and m/t/p, or null. */
function parsePhc(stored: string): { type: string; version: number; m: number; t: number; p: number } | null {
  const match = PHC.exec(stored);
  if (!match) return null;
  const params = Object.fromEntries(match[3].split(',').map((kv) => kv.split('=') as [string, string]));
  const [m, t, p] = [params.m, params.t, params.p].map(Number);
  if (![m, t, p].every((n) => Number.isInteger(n) && n > 0)) return null;
  return { type: match[1], version: Number(match[2]), m, t, p };
}
// Any two-digit cost is recognised as bcrypt, so that an out-of-range one is refused by name.
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const DJANGO_PBKDF2 = /^pbkdf2_sha256\$(\d+)\$([^$]+)\$([A-Za-z0-9+/]+=*)$/;

/** The format of a stored hash, or null when it is none we can read (its cost is checked by `hashCostProblem`). */
export function identifyHash(stored: string): HashFormat | null {
  const phc = parsePhc(stored);
  if (phc) return phc.version === 19 ? (phc.type as HashFormat) : null;
  if (BCRYPT.test(stored)) return 'bcrypt';
  if (DJANGO_PBKDF2.test(stored)) return 'pbkdf2_sha256';
  return null;
}

/**
 * Why verifying `stored` would cost more (or less) than the limits allow,
 * naming the limit; null when it is within them or not a format we read.
 * The parameters named are not secret; the hash itself never appears.
 */
export function hashCostProblem(stored: string): string | null {
  const phc = parsePhc(stored);
  if (phc) {
    if (phc.m > ARGON2_MAX_MEMORY_KIB) return `argon2 memory m=${phc.m} KiB is above the limit of ${ARGON2_MAX_MEMORY_KIB} KiB (${ARGON2_MAX_MEMORY_KIB / 1024} MiB).`;
    if (phc.t > ARGON2_MAX_TIME_COST) return `argon2 iterations t=${phc.t} is above the limit of ${ARGON2_MAX_TIME_COST}.`;
    if (phc.p > ARGON2_MAX_PARALLELISM) return `argon2 parallelism p=${phc.p} is above the limit of ${ARGON2_MAX_PARALLELISM}.`;
    if (phc.m < ARGON2_MIN_MEMORY_KIB_PER_LANE * phc.p) {
      return `argon2 memory m=${phc.m} KiB is below the minimum of ${ARGON2_MIN_MEMORY_KIB_PER_LANE} KiB per lane (p=${phc.p}).`;
    }
    return null;
  }
  const bc = BCRYPT.exec(stored);
  if (bc) {
    const cost = Number(bc[1]);
    if (cost < BCRYPT_MIN_COST || cost > BCRYPT_MAX_COST) return `bcrypt cost ${cost} is outside the limits of ${BCRYPT_MIN_COST} to ${BCRYPT_MAX_COST}.`;
    return null;
  }
  const dj = DJANGO_PBKDF2.exec(stored);
  if (dj) {
    const iterations = Number(dj[1]);
    if (iterations < PBKDF2_MIN_ITERATIONS || iterations > PBKDF2_MAX_ITERATIONS) {
      return `PBKDF2 iterations ${iterations} are outside the limits of ${PBKDF2_MIN_ITERATIONS} to ${PBKDF2_MAX_ITERATIONS}.`;
    }
    return null;
  }
  return null;
}

/** The formats accepted for import, for messages and documentation. */
export const importableFormats = 'argon2id/argon2i/argon2d PHC strings, bcrypt ($2a$, $2b$, $2y$), Django pbkdf2_sha256';

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;

export function createPasswordHasher(params: Argon2Params) {
  let dummy: Promise<string> | undefined;
  let inFlight = 0;

  /** Counts `work` (thread-pool work) while it runs. */
  async function counted<T>(work: () => Promise<T>): Promise<T> {
    inFlight++;
    try {
      return await work();
    } finally {
      inFlight--;
    }
  }

  async function verifyPbkdf2(stored: string, password: string): Promise<boolean> {
    const [, iterations, salt, expected] = DJANGO_PBKDF2.exec(stored)!;
    const want = Buffer.from(expected, 'base64');
    const got = await counted(() => pbkdf2Async(password, salt, Number(iterations), want.length, 'sha256'));
    return got.length === want.length && timingSafeEqual(got, want);
  }

  /**
   * Verifies against a hash of a random password with the same parameters and
   * returns false: callers use it when there is no real hash to check (no
   * user, no password), so those answers take as long as a real check.
   */
  async function verifyDummy(password: string): Promise<false> {
    dummy ??= counted(() => argon2.hash(randomBytes(16).toString('hex'), { type: argon2.argon2id, ...params }));
    const stored = await dummy;
    await counted(() => inSpan('argon2.verify', {}, () => argon2.verify(stored, password)));
    return false;
  }

  return {
    params,

    /** An argon2id PHC string with the configured parameters and a random salt. */
    hash(password: string): Promise<string> {
      return counted(() =>
        inSpan('argon2.hash', { 'argon2.memory_kib': params.memoryCost, 'argon2.iterations': params.timeCost, 'argon2.parallelism': params.parallelism }, () =>
          argon2.hash(password, { type: argon2.argon2id, ...params }),
        ),
      );
    },

    /**
     * True when `password` matches `stored`; false for a mismatch, a hash we
     * cannot read, or one beyond the cost limits (stored by an import before
     * the limits existed, or written to the database directly). Either of those
     * costs a dummy verification instead: the usual time, never hours of CPU
     * or gigabytes of memory.
     */
    async verify(stored: string, password: string): Promise<boolean> {
      const format = identifyHash(stored);
      if (!format || hashCostProblem(stored)) return verifyDummy(password);
      switch (format) {
        case 'argon2id':
        case 'argon2i':
        case 'argon2d':
          return counted(() => inSpan('argon2.verify', {}, () => argon2.verify(stored, password)));
        case 'bcrypt':
          return inSpan('bcrypt.verify', {}, () => bcrypt.compare(password, stored));
        case 'pbkdf2_sha256':
          return inSpan('pbkdf2.verify', {}, () => verifyPbkdf2(stored, password));
      }
    },

    /** True unless `stored` is argon2id with exactly the configured parameters. */
    needsRehash(stored: string): boolean {
      const phc = parsePhc(stored);
      if (!phc || phc.type !== 'argon2id' || phc.version !== 19) return true;
      return phc.m !== params.memoryCost || phc.t !== params.timeCost || phc.p !== params.parallelism;
    },

    verifyDummy,

    /** argon2 and PBKDF2 calls started and not finished: running on the thread pool, or waiting for a thread. */
    inFlight: () => inFlight,
  };
}
