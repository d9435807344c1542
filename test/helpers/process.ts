/** Runs the real `portcullis` command as a child process, as a user would. */
import { request as httpRequest } from 'node:http';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const bin = path.resolve(import.meta.dirname, '..', '..', 'bin', 'portcullis.mjs');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string>): CliResult {
  const r = spawnSync(process.execPath, [bin, ...args], { env: { ...cleanEnv(), ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Like runCli, without blocking the test process, so that several can run at once. */
export function runCliAsync(args: string[], env: Record<string, string>, options: { cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...cleanEnv(), ...env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The parent's environment without test-runner and database variables that would leak in. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('VITEST') && !k.startsWith('PORTCULLIS_') && k !== 'DATABASE_URL' && k !== 'NODE_ENV') env[k] = v;
  }
  return env;
}

export interface Gateway {
  child: ChildProcess;
  url: string;
  origin: string;
  stderr: () => string;
  stdout: () => string;
  /** Resolves once the standard output matches `pattern`; rejects if the process exits first. */
  waitForOutput(pattern: RegExp): Promise<void>;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `portcullis start` on a free port and resolves once it listens. */
export async function startGateway(env: Record<string, string>, args: string[] = []): Promise<Gateway> {
  const child = spawn(process.execPath, [bin, 'start', '--port', '0', ...args], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${err}\n${out}`)), 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"portcullis is listening"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${err}\n${out}`));
    });
  });
  return {
    child,
    url,
    origin: new URL(url).origin,
    stderr: () => err,
    stdout: () => out,
    waitForOutput(pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!pattern.test(out)) return;
          child.stdout!.off('data', check);
          child.off('exit', exited);
          resolve();
        };
        const exited = (code: number | null) => {
          child.stdout!.off('data', check);
          reject(new Error(`gateway exited with ${code} before its output matched ${pattern}:\n${err}\n${out}`));
        };
        // Registered after the listener that appends to `out`, so `out` is current here.
        child.stdout!.on('data', check);
        child.once('exit', exited);
        check();
      });
    },
    stop(signal = 'SIGTERM') {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      });
    },
  };
}

/**
 * POSTs a GraphQL operation over real HTTP, on a connection of its own: the
 * CLI tests block this process in spawnSync for seconds, long enough for the
 * gateway to close an idle kept-alive connection the client would then reuse
 * without having noticed ("other side closed").
 */
export function postGraphql(url: string, query: string, variables: Record<string, unknown> = {}, token?: string) {
  const body = JSON.stringify({ query, variables });
  return new Promise<{ status: number; headers: Headers; body: { data?: any; errors?: Array<{ message: string; extensions?: { code?: string } }> } }>((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
        try {
          resolve({ status: res.statusCode!, headers, body: JSON.parse(text) });
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
