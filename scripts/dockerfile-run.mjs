#!/usr/bin/env node
// Runs deploy/Dockerfile's steps as a script, for CI on machines without a
// container engine: each COPY of the build stage copies from this checkout
// into a fresh folder, each RUN runs there (apt-get lines are skipped: the
// machine has the build tools), the final stage's ENV is applied, CMD starts
// the gateway and the HEALTHCHECK command must pass. Deviations from a real
// image, both forced by sharing the machine: the gateway listens on
// 127.0.0.1 and on a free port instead of 0.0.0.0:4000.
import { execSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lines = readFileSync(path.join(root, 'deploy', 'Dockerfile'), 'utf8')
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = [];
for (const line of lines) {
  if (line.startsWith('FROM ')) stages.push([]);
  else stages.at(-1).push(line);
}
const [build, final] = stages;
// The same folder every run: native addons compile with the same paths, so a compiler cache (ccache, which
// .ci/run puts in front of node-gyp) serves them again instead of compiling SQLite for minutes.
const app = path.join(tmpdir(), 'portcullis-image');
rmSync(app, { recursive: true, force: true });
mkdirSync(app, { recursive: true });
const data = mkdtempSync(path.join(tmpdir(), 'portcullis-image-data-'));
const step = (what) => console.log(`dockerfile: ${what}`);

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

let child;
try {
  for (const line of build) {
    const [op, ...rest] = line.split(' ');
    if (op === 'COPY') {
      const dest = rest.at(-1);
      for (const source of rest.slice(0, -1)) {
        step(`COPY ${source}`);
        cpSync(path.join(root, source), path.join(app, dest.endsWith('/') || dest === '.' ? path.basename(source) : dest), { recursive: true });
      }
    } else if (op === 'RUN') {
      const command = rest.join(' ');
      if (command.startsWith('apt-get')) {
        step(`skip ${command.slice(0, 60)}…`);
        continue;
      }
      step(`RUN ${command}`);
      execSync(command, { cwd: app, stdio: 'inherit' });
    } else if (op !== 'WORKDIR') throw new Error(`dockerfile-run: no rule for "${line}" in the build stage`);
  }
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const line of final.filter((l) => l.startsWith('ENV '))) {
    for (const [, name, value] of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[name] = value;
  }
  const port = await freePort();
  Object.assign(env, { HOST: '127.0.0.1', PORT: String(port), PORTCULLIS_DATA_DIR: data, PORTCULLIS_ALLOW_CONSOLE_DELIVERY: 'true' });
  const cmd = JSON.parse(final.find((l) => l.startsWith('CMD ')).slice(4));
  step(`CMD ${cmd.join(' ')} (port ${port})`);
  child = spawn(cmd[0] === 'node' ? process.execPath : cmd[0], cmd.slice(1), { cwd: app, env, stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.resume();
  const health = final
    .find((l) => l.startsWith('HEALTHCHECK '))
    .replace(/^HEALTHCHECK .*? CMD /, '')
    .replace('127.0.0.1:4000', `127.0.0.1:${port}`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      execSync(health, { cwd: app, stdio: 'ignore', env });
      break;
    } catch {
      if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error('HEALTHCHECK did not pass within 60 s');
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  step('HEALTHCHECK passed');
} finally {
  child?.kill('SIGTERM');
  rmSync(app, { recursive: true, force: true });
  rmSync(data, { recursive: true, force: true });
}
