/**
 * The deployment examples in deploy/ cannot be run here (no container engine,
 * no systemd, no nginx on these machines), so their shape is checked against
 * the package: every file they copy or run exists, every variable they set is
 * one the gateway reads, and the proxy passes WebSocket upgrades, streams SSE
 * unbuffered and writes the client address where the gateway reads it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configVariables } from '../src/config.js';

const root = path.resolve(import.meta.dirname, '..');
const read = (file: string) => readFileSync(path.join(root, 'deploy', file), 'utf8');
const known = new Set(configVariables.flatMap(([names]) => names.split(' / ')));

describe('deploy/', () => {
  it('docker-compose.yml runs two gateways on one PostgreSQL and one Redis, behind the proxy, with known variables only', () => {
    const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, { environment?: Record<string, string>; build?: { dockerfile: string } }> };
    expect(Object.keys(compose.services).sort()).toEqual(['gateway-a', 'gateway-b', 'postgres', 'proxy', 'redis']);
    for (const name of ['gateway-a', 'gateway-b']) {
      const gateway = compose.services[name];
      expect(gateway.build?.dockerfile).toBe('deploy/Dockerfile');
      const env = gateway.environment!;
      expect(env.DATABASE_URL).toMatch(/^postgresql:\/\/.*@postgres:5432\//);
      expect(env.REDIS_URL).toBe('redis://redis:6379');
      expect(env.PORTCULLIS_TRUST_PROXY).toBe('true');
      for (const variable of Object.keys(env)) expect(known, variable).toContain(variable);
    }
  });

  it('Dockerfile copies files that exist and runs the command the package ships', () => {
    const dockerfile = read('Dockerfile');
    for (const [, source] of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const file of source.split(' ')) expect(existsSync(path.join(root, file)), file).toBe(true);
    }
    expect(dockerfile).toContain('CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=256", "bin/portcullis.mjs", "start"]');
    expect(dockerfile).toMatch(/^ENV .*MALLOC_ARENA_MAX=2/m);
    expect(existsSync(path.join(root, 'bin', 'portcullis.mjs'))).toBe(true);
    // npm ci builds dist/ through postinstall: the image runs compiled code.
    expect(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.postinstall).toContain('scripts/build.mjs');
    expect(dockerfile).toContain("fetch('http://127.0.0.1:4000/readyz')");
  });

  it('nginx.conf upgrades WebSockets, streams SSE unbuffered and replaces X-Forwarded-For', () => {
    const nginx = read('nginx.conf');
    expect(nginx).toContain('proxy_set_header Upgrade $http_upgrade;');
    expect(nginx).toContain('proxy_set_header Connection $connection_upgrade;');
    expect(nginx).toContain('proxy_buffering off;');
    // The gateway takes the last X-Forwarded-For entry: nginx must write the address it saw, not append to the client's.
    expect(nginx).toContain('proxy_set_header X-Forwarded-For $remote_addr;');
  });

  it('portcullis.service starts the package in production and stops within the shutdown timeout', () => {
    const unit = read('portcullis.service');
    expect(unit).toContain('ExecStart=/usr/bin/node --max-semi-space-size=8 --max-old-space-size=256 bin/portcullis.mjs start');
    expect(unit).toMatch(/^Environment=.*MALLOC_ARENA_MAX=2/m);
    expect(unit).toMatch(/Environment=NODE_ENV=production/);
    expect(Number(/TimeoutStopSec=(\d+)/.exec(unit)?.[1])).toBeGreaterThan(10);
  });
});
