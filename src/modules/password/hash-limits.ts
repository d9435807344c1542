/**
 * Ceilings on the cost of the password hashes the gateway accepts and
 * verifies. An imported hash chooses its own cost, and every sign-in for
 * that user pays it: without a ceiling, one `$2b$31$…` (2^31 bcrypt rounds,
 * days of CPU) or `m=4294967295` (4 TiB of argon2 memory) turns each login
 * attempt into a denial of service. Each limit below says why it sits where
 * it does: above the presets in common use, below what one sign-in may cost.
 *
 * This module has no dependencies so that config.ts holds the configured
 * argon2id parameters to the same ceilings: every hash the gateway writes
 * stays one it will verify.
 */

/** bcrypt's cost is log2 of its rounds: 4 is bcrypt's own minimum, 16 (65,536 rounds) already takes seconds. */
export const BCRYPT_MIN_COST = 4;
export const BCRYPT_MAX_COST = 16;

/**
 * 512 MiB of memory per argon2 verification: OWASP's presets use 7–46 MiB and
 * RFC 9106's second recommendation 64 MiB. Its first, 2 GiB, is refused on
 * purpose: a gateway cannot spend that on every sign-in attempt.
 */
export const ARGON2_MAX_MEMORY_KIB = 524_288;

/**
 * 10 argon2 passes: common presets stay far below (RFC 9106: 1 or 3; OWASP:
 * 1–5; libsodium's "sensitive": 4 for argon2id, 8 for argon2i), and 10 passes
 * over the 512 MiB ceiling is still seconds, not hours.
 */
export const ARGON2_MAX_TIME_COST = 10;

/** 16 lanes: node-argon2 starts one OS thread per lane for each verification; presets use 1–4 (OWASP: 1, RFC 9106: 4). */
export const ARGON2_MAX_PARALLELISM = 16;

/** argon2 needs at least 8 KiB of memory per lane (RFC 9106 §3.1); below that, verification throws. */
export const ARGON2_MIN_MEMORY_KIB_PER_LANE = 8;

/**
 * PBKDF2-SHA256 iterations: OWASP recommends 600,000 and recent Django
 * releases default to about a million; 2,000,000 leaves room and is still
 * about a second per verification.
 */
export const PBKDF2_MIN_ITERATIONS = 1;
export const PBKDF2_MAX_ITERATIONS = 2_000_000;

/** The limits in one line, for API descriptions and messages. */
export const passwordHashLimits =
  `bcrypt cost ${BCRYPT_MIN_COST}–${BCRYPT_MAX_COST}; argon2 m ≤ ${ARGON2_MAX_MEMORY_KIB} KiB, t ≤ ${ARGON2_MAX_TIME_COST}, p ≤ ${ARGON2_MAX_PARALLELISM}; ` +
  `PBKDF2 ${PBKDF2_MIN_ITERATIONS}–${PBKDF2_MAX_ITERATIONS} iterations`;
