/**
 * The argon2 work the gateway does, observed at the argon2 module itself.
 * Counting calls to our hasher's methods says nothing about cost: a dummy
 * verification that skipped argon2, or hashed with cheaper parameters, would
 * count the same. So this spies on `argon2.verify` (passing through: the app
 * imports the same module object) and records, for each call, the parameters
 * of the PHC string it verified against, which are the parameters argon2
 * actually computed with, and whether the call had finished.
 */
import argon2 from 'argon2';
import { expect, vi } from 'vitest';
import type { Argon2Params } from '../../src/modules/password/hashing.js';

export interface Argon2Verification {
  /** The PHC string verified against: a user's stored hash, or the dummy. */
  against: string;
  type: string;
  m: number;
  t: number;
  p: number;
  /** The verification had completed when the work was read: the answer waited for it. */
  finished: boolean;
}

/** The PHC string's algorithm and m/t/p (node-argon2 writes `m=…,t=…,p=…` in some order). */
function parametersOf(phc: string): Omit<Argon2Verification, 'against' | 'finished'> {
  const [, type, , list] = phc.split('$');
  const params = Object.fromEntries(list.split(',').map((kv) => kv.split('=')));
  return { type, m: Number(params.m), t: Number(params.t), p: Number(params.p) };
}

/**
 * A finished verification with exactly the configured argon2id parameters
 * (config.passwords.argon2), as a matcher: what every password outcome must cost. `against`: the stored
 * hash it must have checked (a real check); any by default.
 */
export function configuredVerification({ memoryCost, timeCost, parallelism }: Argon2Params, against: unknown = expect.any(String)) {
  return { against, type: 'argon2id', m: memoryCost, t: timeCost, p: parallelism, finished: true };
}

export function watchArgon2() {
  const spy = vi.spyOn(argon2, 'verify');
  return {
    /** The verifications since the last take (or the start), in call order; starts a new record. */
    take(): Argon2Verification[] {
      const work = spy.mock.calls.map(([phc], i) => ({ against: phc, ...parametersOf(phc), finished: spy.mock.settledResults[i]?.type === 'fulfilled' }));
      spy.mockClear();
      return work;
    },
    restore() {
      spy.mockRestore();
    },
  };
}
