#!/usr/bin/env node
// Compares the tests a vitest JSON report skipped with the committed list of
// expected skips for that database, so CI cannot turn green while tests it
// believes it ran were skipped (a missing tool, a wrong condition), nor keep
// an expected skip that no longer happens.
//
//   node scripts/check-skips.mjs <sqlite|postgresql> <vitest-report.json> [expected-skips.json]
//
// Names are "<file> > <describe> > … > <test>", files relative to the repository.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const [provider, reportFile, expectedFile = path.join(root, 'test', 'expected-skips.json')] = process.argv.slice(2);
if (!provider || !reportFile) {
  console.error('usage: node scripts/check-skips.mjs <sqlite|postgresql> <vitest-report.json> [expected-skips.json]');
  process.exit(2);
}
if (!existsSync(reportFile)) {
  console.error(`check-skips: no report at ${reportFile}: the ${provider} run did not finish`);
  process.exit(1);
}

const listed = JSON.parse(readFileSync(expectedFile, 'utf8'))[provider];
if (!Array.isArray(listed)) {
  console.error(`check-skips: ${path.relative(root, expectedFile)} has no list for "${provider}"`);
  process.exit(2);
}
const problems = [];
for (const entry of listed) {
  if (typeof entry?.test !== 'string' || typeof entry?.reason !== 'string' || !entry.reason.trim()) {
    problems.push(`an entry without a test name or a reason: ${JSON.stringify(entry)}`);
  }
}
const expected = new Set(listed.map((e) => e.test));
if (expected.size !== listed.length) problems.push('a test is listed twice');

const report = JSON.parse(readFileSync(reportFile, 'utf8'));
const ran = new Set();
const skipped = new Set();
for (const file of report.testResults) {
  const relative = path.relative(root, file.name).split(path.sep).join('/');
  for (const a of file.assertionResults) {
    const name = [relative, ...a.ancestorTitles, a.title].join(' > ');
    // 'pending' and 'todo' did not run either.
    (['skipped', 'pending', 'todo'].includes(a.status) ? skipped : ran).add(name);
  }
}

const unexpected = [...skipped].filter((n) => !expected.has(n));
const missing = [...expected].filter((n) => !skipped.has(n));
for (const name of unexpected) problems.push(`skipped, but not expected to: ${name}`);
for (const name of missing) problems.push(`expected to skip, but ${ran.has(name) ? 'it ran' : 'it is not in the report'}: ${name}`);

const where = path.relative(root, expectedFile);
if (problems.length) {
  console.error(`check-skips (${provider}): the skipped tests differ from ${where}:`);
  for (const p of problems) console.error(`  - ${p}`);
  console.error(`Run what should run, or update ${where} with the reason for the skip.`);
  process.exit(1);
}
console.log(`check-skips (${provider}): ${skipped.size} skipped, as listed in ${where}`);
