/**
 * The password policy of NIST SP 800-63B §5.1.1.2: a minimum and a maximum
 * length, and refusal of passwords found in lists of commonly used or
 * breached passwords. No composition rules ("one digit, one symbol"): they
 * make passwords harder to remember, not harder to guess.
 *
 * The common-password list is the ~49,000 most frequent passwords shipped in
 * @zxcvbn-ts/language-common (maintained, bundled, works offline).
 */
import { createRequire } from 'node:module';

// Loaded with the first password checked, not at start: the list costs about 3 MB of an idle instance's memory.
const loadPackage = createRequire(import.meta.url);

export interface PasswordPolicy {
  minLength: number;
  maxLength: number;
  rejectCommon: boolean;
}

let common: Set<string> | undefined;

/** Built on first use: about 49k entries. Entries are lower case, so the check ignores case. */
function commonPasswords(): Set<string> {
  common ??= new Set((loadPackage('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common')).dictionary['passwords-common']);
  return common;
}

/** Length in Unicode code points, as NIST counts characters (not UTF-16 units). */
const lengthOf = (s: string) => [...s].length;

/** The reasons a password breaks the policy; empty when it is acceptable. */
export function checkPassword(password: string, policy: PasswordPolicy): string[] {
  const reasons: string[] = [];
  const length = lengthOf(password.normalize('NFKC'));
  if (length < policy.minLength) reasons.push(`must be at least ${policy.minLength} characters`);
  if (length > policy.maxLength) reasons.push(`must be at most ${policy.maxLength} characters`);
  if (policy.rejectCommon && length <= 64 && commonPasswords().has(password.toLowerCase())) {
    reasons.push('is one of the most commonly used passwords');
  }
  return reasons;
}
