/**
 * `npm run bench -- memory`: the gateway's memory at rest, under load and over
 * a long run, on SQLite and then PostgreSQL, next to a bare node:http server
 * (the floor: what Node itself holds).
 *
 * Every measured process is a child started with
 * `NODE_OPTIONS=--import bench/memory-probe.mjs`: on SIGUSR2 the probe writes
 * process.memoryUsage() and the V8 heap spaces to a file, so the gateway needs
 * no debug endpoint. Resident memory (and its file-backed and anonymous parts,
 * and the peak since a reset) is read from /proc/<pid>/status.
 *
 * Per database, on one gateway process:
 * 1. idle: 15 s and 60 s after it printed its endpoint, no traffic;
 * 2. load: the hot paths (sign-in and credential checks, user reads, a few
 *    updates) from BENCH_CONNECTIONS (8) autocannon connections as fast as it
 *    answers, for BENCH_LOAD_S (30) s: req/s, p50/p99, errors, peak and end RSS;
 * 3. soak: the same mix at BENCH_SOAK_RATE (50) req/s for BENCH_SOAK_S (600) s
 *    while BENCH_SUBSCRIPTIONS (1000) graphql-ws subscriptions, one WebSocket
 *    each, follow the userEvents of the users the updates change, and must
 *    receive every event. A sample every 10 s; the verdict compares the end
 *    with the state after the first minute.
 *
 * BENCH_HEAP_SNAPSHOTS=1 also writes a heap snapshot after the soak's first
 * minute and at its end and prints the difference by constructor (to find
 * what grows; the snapshots disturb the figures, so they are off by default).
 * BENCH_PROVIDERS=sqlite runs one database only; BENCH_NODE_OPTIONS adds Node
 * flags to the measured processes (the gateway and the floor) only. Everything listens on
 * 127.0.0.1; the PostgreSQL database is created for the run and dropped after.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import {
  API_KEY,
  benchDatabase,
  cpuOf,
  GATEWAY_LISTENING,
  gatewayEnv,
  graphqlCall,
  machine,
  percentile,
  root,
  seedTotpUsers,
  settle,
  startChild,
  stopChild,
  totpCodes,
  writeReadmeSection,
  type Provider,
} from './lib.js';

const LOAD_S = Number(process.env.BENCH_LOAD_S ?? 30);
const SOAK_S = Number(process.env.BENCH_SOAK_S ?? 600);
/**
 * Well under capacity: the cycle below costs about 4.5 ms of the gateway's main thread per request
 * (7 ms for a user(id) with its methods, 14 ms for a login), so one process on this machine tops out
 * near 220 req/s when the machine is otherwise idle; the soak watches a steady state, not a queue.
 */
const SOAK_RATE = Number(process.env.BENCH_SOAK_RATE ?? 50);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const SOAK_CONNECTIONS = 10;
const SUBSCRIPTIONS = Number(process.env.BENCH_SUBSCRIPTIONS ?? 1000);
const HEAP_SNAPSHOTS = process.env.BENCH_HEAP_SNAPSHOTS === '1';
const PROVIDERS = (process.env.BENCH_PROVIDERS ?? 'sqlite,postgresql').split(',') as Provider[];
const IDLE_AT_S = [15, 60];
const SAMPLE_S = 10;
/**
 * The soak's reference is its second minute (after the first one, which fills caches and compiles the hot
 * code), compared with its last minute: means of the RSS samples, p99 over all requests of each minute.
 * RSS follows V8's collection cycles up and down by tens of MiB within a minute; one sample is not a level.
 */
const REFERENCE_S = 60;
const SPAN_S = 60;
const TOTP_USERS = 3000;
const PASSWORD_USERS = 20;
/** Users whose events the subscriptions follow; the updates go to them. */
const SUBSCRIBED_USERS = 100;
const PASSWORD = 'correct horse battery staple';
const PROBE = pathToFileURL(path.join(root, 'bench', 'memory-probe.mjs')).href;
const TARGETS = { idleMiB: 140, loadMiB: 250, soakDrift: 0.1 };

const children = new Set<ChildProcess>();
/** Databases and folders to remove if the run is interrupted. */
const cleanups = new Set<() => Promise<void>>();
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`memory bench: ${signal}; stopping the children and dropping the databases`);
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    void Promise.allSettled([...cleanups].map((c) => c())).then(() => process.exit(130));
  });
}
// Bounded: a run that hangs fails instead of waiting forever.
const budgetS = PROVIDERS.length * (IDLE_AT_S.at(-1)! + LOAD_S + SOAK_S + 300) + 120;
setTimeout(() => {
  console.error(`memory bench: gave up after ${budgetS} s`);
  process.exit(1);
}, budgetS * 1000).unref();

// ── Reading a process's memory ─────────────────────────────────────────────

const MiB = 1024 * 1024;
const mib = (bytes: number | undefined) => (bytes === undefined || Number.isNaN(bytes) ? '–' : (bytes / MiB).toFixed(0));

interface ProcMemory {
  rss: number;
  /** Peak resident memory since start or since resetPeak (VmHWM). */
  hwm: number;
  /** Resident pages backed by files: the node binary, native addons, mapped libraries. */
  file: number;
  /** Resident anonymous pages: the V8 heap, malloc, WebAssembly memory. */
  anon: number;
}

function procMemory(pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM'), file: kib('RssFile'), anon: kib('RssAnon') };
}

/** Resets the kernel's peak-RSS mark (Linux ≥ 4.0); false where it cannot. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Over a phase: peak RSS (the kernel's mark when it could be reset, else the
 * highest of frequent reads) and CPU used, in cores (1 = one core all the time).
 */
function phaseTracker(pid: number) {
  const exact = resetPeak(pid);
  const cpuBefore = cpuOf(pid);
  const t0 = performance.now();
  let polled = procMemory(pid).rss;
  const timer = setInterval(() => {
    try {
      polled = Math.max(polled, procMemory(pid).rss);
    } catch {
      // The process is gone; the phase reports it.
    }
  }, 200);
  return () => {
    clearInterval(timer);
    const now = procMemory(pid);
    const cpuAfter = cpuOf(pid);
    const cores = cpuBefore && cpuAfter ? (cpuAfter.all - cpuBefore.all) / (performance.now() - t0) : NaN;
    return { peakRss: Math.max(polled, now.rss, exact ? now.hwm : 0), cores };
  };
}

interface HeapSample {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  spaces: Record<string, number>;
  /** Heap in use just after the latest full collection (undefined before the first). */
  afterMajorGc?: number;
}

/** A child with the probe loaded. */
class Measured {
  readonly file = path.join(tmpdir(), `portcullis-memory-${randomBytes(6).toString('hex')}.jsonl`);
  child!: ChildProcess;
  url!: string;
  listeningAt = 0;

  static async start(args: string[], env: Record<string, string>, pattern: RegExp): Promise<Measured> {
    const m = new Measured();
    writeFileSync(m.file, '');
    cleanups.add(m.removeFile);
    // BENCH_NODE_OPTIONS: flags to try on the measured processes (the floor gets them too), e.g. V8 heap sizes.
    const NODE_OPTIONS = [process.env.NODE_OPTIONS, process.env.BENCH_NODE_OPTIONS, `--import=${PROBE}`].filter(Boolean).join(' ');
    const { child, url } = await startChild(args, { ...env, NODE_OPTIONS, BENCH_MEMORY_PROBE_FILE: m.file }, pattern);
    children.add(child);
    m.listeningAt = performance.now();
    m.child = child;
    m.url = url;
    return m;
  }

  get pid() {
    return this.child.pid!;
  }

  proc() {
    return procMemory(this.pid);
  }

  /** Asks the probe for a sample and waits for its line (the process answers between two tasks). */
  async heap(snapshotTo?: string): Promise<HeapSample> {
    const before = readFileSync(this.file, 'utf8').length;
    if (snapshotTo) writeFileSync(`${this.file}.snapshot`, snapshotTo);
    this.child.kill('SIGUSR2');
    const until = performance.now() + (snapshotTo ? 300_000 : 30_000);
    for (;;) {
      const text = readFileSync(this.file, 'utf8');
      if (text.length > before && text.endsWith('\n')) return JSON.parse(text.slice(before).trim().split('\n').at(-1)!) as HeapSample;
      if (performance.now() > until) throw new Error(`no memory sample from pid ${this.pid}`);
      await sleep(20);
    }
  }

  async stop() {
    await stopChild(this.child);
    children.delete(this.child);
    await this.removeFile();
    cleanups.delete(this.removeFile);
  }

  readonly removeFile = async () => rmSync(this.file, { force: true });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ── Idle ───────────────────────────────────────────────────────────────────

interface IdlePoint {
  atS: number;
  proc: ProcMemory;
  heap: HeapSample;
}

async function idle(m: Measured): Promise<IdlePoint[]> {
  const points: IdlePoint[] = [];
  for (const atS of IDLE_AT_S) {
    await sleep(m.listeningAt + atS * 1000 - performance.now());
    points.push({ atS, proc: m.proc(), heap: await m.heap() });
  }
  return points;
}

/** The floor: a bare node:http server, same node, same flags, the same probe. */
async function floorIdle(): Promise<IdlePoint[]> {
  const script = `import { createServer } from 'node:http';
const server = createServer((req, res) => res.end('ok'));
server.listen(0, '127.0.0.1', () => console.error('listening on http://127.0.0.1:' + server.address().port + '/'));`;
  const m = await Measured.start(['--input-type=module', '-e', script], {}, /listening on (\S+)/);
  try {
    return await idle(m);
  } finally {
    await m.stop();
  }
}

// ── The mix of requests ────────────────────────────────────────────────────

type Kind = 'login' | 'verifyPassword' | 'verifyTotp' | 'user' | 'users' | 'updateUser';

/** One cycle of 20 requests: 2 password hashes, 4 TOTP checks, 11 reads, 3 updates. */
const CYCLE: Kind[] = [
  'user', 'verifyTotp', 'users', 'user', 'updateUser',
  'verifyTotp', 'user', 'login', 'users', 'user',
  'verifyTotp', 'updateUser', 'user', 'users', 'verifyPassword',
  'user', 'verifyTotp', 'updateUser', 'user', 'users',
]; // prettier-ignore

const OPERATIONS: Record<Kind, { query: string; ok: (data: Record<string, any>) => boolean }> = {
  login: {
    query: 'mutation($i: LoginInput!) { login(input: $i) { __typename ... on LoginSuccess { accessToken session { id } } } }',
    ok: (d) => d.login?.__typename === 'LoginSuccess',
  },
  verifyPassword: {
    query: 'mutation($i: VerifyPasswordInput!) { verifyPassword(input: $i) { __typename } }',
    ok: (d) => d.verifyPassword?.__typename === 'VerifyPasswordSuccess',
  },
  verifyTotp: {
    query: 'mutation($i: VerifyTotpInput!) { verifyTotp(input: $i) { __typename } }',
    // A second check of a user within one 30 s step is refused as a replay after the same work: both are answers.
    ok: (d) => d.verifyTotp?.__typename === 'VerifyTotpSuccess' || d.verifyTotp?.__typename === 'CodeAlreadyUsedError',
  },
  user: {
    query: 'query($id: ID!) { user(id: $id) { id email displayName state mfaEnabled hasPassword createdAt authMethods { id kind verified } } }',
    ok: (d) => typeof d.user?.id === 'string',
  },
  users: {
    query: 'query { users(first: 20) { totalCount edges { cursor node { id email state createdAt } } } }',
    ok: (d) => d.users?.edges?.length === 20,
  },
  updateUser: {
    query: 'mutation($i: UpdateUserInput!) { updateUser(input: $i) { __typename ... on UpdateUserSuccess { user { id displayName } } } }',
    ok: (d) => d.updateUser?.__typename === 'UpdateUserSuccess',
  },
};

interface Fixture {
  passwordUsers: string[];
  totpUsers: { id: string; seed: Buffer }[];
  subscribedUsers: string[];
}

/** Counts answers and errors; the soak reads and resets `window`. */
class Tally {
  requests = 0;
  errors = 0;
  updatesOk = 0;
  byKind = new Map<string, number>();
  firstErrors: string[] = [];
  /** Called with each update that succeeded: the index of its user and the display name it set. */
  onUpdate?: (userIndex: number, tag: string) => void;
  window = { latencies: [] as number[], errors: 0 };

  error(kind: string, what: string) {
    this.errors++;
    this.window.errors++;
    const key = `${kind}: ${what.slice(0, 200)}`;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
    if (this.firstErrors.length < 5 && !this.firstErrors.includes(key)) this.firstErrors.push(key);
  }
}

/** The autocannon requests of one cycle; counters are shared so every connection walks all users. */
function mixRequests(f: Fixture, tally: Tally): autocannon.Request[] {
  const codeFor = totpCodes(f.totpUsers);
  let next = 0;
  let update = 0;
  const variables: Record<Kind, (context: Record<string, unknown>) => Record<string, unknown>> = {
    login: () => ({ i: { identifier: `bench-password-${next++ % f.passwordUsers.length}@example.com`, password: PASSWORD } }),
    verifyPassword: () => ({ i: { userId: f.passwordUsers[next++ % f.passwordUsers.length], password: PASSWORD } }),
    verifyTotp: () => {
      const i = next++ % f.totpUsers.length;
      return { i: { userId: f.totpUsers[i].id, code: codeFor(i) } };
    },
    user: () => ({ id: f.totpUsers[Math.floor(Math.random() * f.totpUsers.length)].id }),
    users: () => ({}),
    updateUser: (context) => {
      const u = update % f.subscribedUsers.length;
      // Unique, so the subscribers' deliveries of each update can be counted.
      context.user = u;
      context.tag = `bench-${update++}`;
      return { i: { userId: f.subscribedUsers[u], displayName: context.tag } };
    },
  };
  return CYCLE.map((kind) => ({
    setupRequest: (req: autocannon.Request, context: object) => ({
      ...req,
      body: JSON.stringify({ query: OPERATIONS[kind].query, variables: variables[kind](context as Record<string, unknown>) }),
    }),
    onResponse: (status: number, body: string, context: object) => {
      tally.requests++;
      if (status !== 200) return tally.error(kind, `HTTP ${status}`);
      let parsed: { data?: Record<string, any>; errors?: unknown };
      try {
        parsed = JSON.parse(body);
      } catch {
        return tally.error(kind, 'not JSON');
      }
      if (parsed.errors) return tally.error(kind, JSON.stringify(parsed.errors));
      if (!parsed.data || !OPERATIONS[kind].ok(parsed.data)) return tally.error(kind, `unexpected answer ${body}`);
      if (kind === 'updateUser') {
        tally.updatesOk++;
        const { user, tag } = context as { user: number; tag: string };
        tally.onUpdate?.(user, tag);
      }
    },
  }));
}

function drive(url: string, f: Fixture, tally: Tally, options: { connections: number; duration: number; overallRate?: number }) {
  const instance = autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    requests: mixRequests(f, tally),
    ...options,
  }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => tally.window.latencies.push(Math.round(responseTime)));
  return instance;
}

/** Errors autocannon counts on its own: connection errors and timeouts (non-2xx are counted by the tally). */
const transportErrors = (r: autocannon.Result) => r.errors + r.timeouts;

// ── Load ───────────────────────────────────────────────────────────────────

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  firstErrors: string[];
  peakRss: number;
  cores: number;
  endRss: number;
  endHeap: HeapSample;
}

async function load(m: Measured, f: Fixture): Promise<LoadResult> {
  const tally = new Tally();
  const phase = phaseTracker(m.pid);
  const result = await drive(m.url, f, tally, { connections: CONNECTIONS, duration: LOAD_S });
  const { peakRss, cores } = phase();
  const endRss = m.proc().rss;
  const endHeap = await m.heap();
  return {
    rps: result.requests.total / (result.duration || LOAD_S),
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: tally.requests,
    errors: tally.errors + transportErrors(result),
    firstErrors: tally.firstErrors,
    peakRss,
    cores,
    endRss,
    endHeap,
  };
}

// ── Soak ───────────────────────────────────────────────────────────────────

interface Sample {
  atS: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  afterMajorGc?: number;
  p99: number;
  requests: number;
  errors: number;
  delivered: number;
}

/** A minute of the soak: mean RSS, mean heap after the latest full collection, p99 of its requests. */
interface Span {
  rss: number;
  afterMajorGc: number;
  p99: number;
}

interface SoakResult {
  samples: Sample[];
  peakRss: number;
  cores: number;
  reference: Span;
  end: Span;
  requests: number;
  errors: number;
  firstErrors: string[];
  delivered: number;
  expected: number;
  dropped: number;
  notLive: number;
  heapDiff?: string;
}

/** Subscriptions to the subscribed users' events, one WebSocket each, spread evenly. */
async function subscribe(url: string, f: Fixture) {
  const state = {
    clients: [] as Client[],
    received: new Array<number>(SUBSCRIPTIONS).fill(0),
    /** Deliveries by the display name an update set. */
    byTag: new Map<string, number>(),
    delivered: 0,
    dropped: 0,
    closing: false,
    firstDrops: [] as string[],
  };
  const drop = (what: string) => {
    if (state.closing) return;
    state.dropped++;
    if (state.firstDrops.length < 5) state.firstDrops.push(what);
  };
  const wsUrl = url.replace(/^http/, 'ws');
  let connected = 0;
  for (let s = 0; s < SUBSCRIPTIONS; s++) {
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${API_KEY}` }, retryAttempts: 0 });
    client.on('connected', () => connected++);
    client.on('closed', (event) => drop(`socket closed: ${(event as { code?: number }).code}`));
    client.subscribe<{ userEvents: { type: string; data: { user?: { displayName?: string } } } }>(
      { query: 'subscription($id: ID!) { userEvents(userId: $id) { type occurredAt data } }', variables: { id: f.subscribedUsers[s % f.subscribedUsers.length] } },
      {
        next: (r) => {
          if (r.errors) return drop(`error: ${JSON.stringify(r.errors)}`);
          state.received[s]++;
          const tag = r.data?.userEvents.data.user?.displayName;
          if (tag?.startsWith('bench-')) {
            state.delivered++;
            state.byTag.set(tag, (state.byTag.get(tag) ?? 0) + 1);
          }
        },
        error: (e) => drop(`error: ${e instanceof Error ? e.message : JSON.stringify(e)}`),
        complete: () => drop('completed by the server'),
      },
    );
    state.clients.push(client);
    // Paced, so a thousand handshakes do not arrive at once.
    if (s % 50 === 49) await settle(() => connected, s + 1, 30_000);
  }
  await settle(() => connected, SUBSCRIPTIONS, 60_000);
  return state;
}

async function soak(m: Measured, f: Fixture): Promise<SoakResult> {
  const subs = await subscribe(m.url, f);
  // graphql-ws acknowledges a connection before its subscription is registered: an update to every
  // user until each subscription has received one proves them all live before the clock starts.
  const until = performance.now() + 60_000;
  while (subs.received.some((n) => n === 0) && performance.now() < until) {
    await Promise.all(f.subscribedUsers.map((id) => graphqlCall(m.url, 'mutation($i: UpdateUserInput!) { updateUser(input: $i) { __typename } }', { i: { userId: id, displayName: 'prime' } })));
    await sleep(1000);
  }
  const notLive = subs.received.filter((n) => n === 0).length;
  const subscribersOf = new Array<number>(f.subscribedUsers.length).fill(0);
  for (let s = 0; s < SUBSCRIPTIONS; s++) subscribersOf[s % f.subscribedUsers.length]++;

  const tally = new Tally();
  // Only the updates whose answer arrived: one still in flight when the load stops may or may not have committed.
  const confirmed: { tag: string; subscribers: number }[] = [];
  tally.onUpdate = (u, tag) => confirmed.push({ tag, subscribers: subscribersOf[u] });
  const expected = () => confirmed.reduce((n, c) => n + c.subscribers, 0);
  const deliveredOfConfirmed = () => confirmed.reduce((n, c) => n + Math.min(c.subscribers, subs.byTag.get(c.tag) ?? 0), 0);
  const samples: Sample[] = [];
  const windows: number[][] = [];
  const phase = phaseTracker(m.pid);
  const started = performance.now();
  let deliveredBefore = 0;
  let droppedBefore = subs.dropped;
  let snapshotA: string | undefined;
  let snapshotB: string | undefined;
  const instance = drive(m.url, f, tally, { connections: SOAK_CONNECTIONS, duration: SOAK_S, overallRate: SOAK_RATE });
  let running = true;
  const done = Promise.resolve(instance).finally(() => (running = false));
  const sampler = (async () => {
    for (let i = 1; i * SAMPLE_S <= SOAK_S; i++) {
      await sleep(started + i * SAMPLE_S * 1000 - performance.now());
      const window = tally.window;
      tally.window = { latencies: [], errors: 0 };
      window.latencies.sort((a, b) => a - b);
      windows.push(window.latencies);
      const heap = await m.heap();
      const dropped = subs.dropped - droppedBefore;
      droppedBefore = subs.dropped;
      samples.push({
        atS: i * SAMPLE_S,
        rss: m.proc().rss,
        heapTotal: heap.heapTotal,
        heapUsed: heap.heapUsed,
        afterMajorGc: heap.afterMajorGc,
        p99: percentile(window.latencies, 99),
        requests: window.latencies.length,
        errors: window.errors + dropped,
        delivered: subs.delivered - deliveredBefore,
      });
      deliveredBefore = subs.delivered;
      const s = samples.at(-1)!;
      console.log(`  ${String(s.atS).padStart(4)} s  RSS ${mib(s.rss)} MiB  heap ${mib(s.heapUsed)} of ${mib(s.heapTotal)} MiB (${mib(s.afterMajorGc)} after full GC)  p99 ${s.p99} ms  ${s.requests} req  ${s.delivered} events  ${s.errors} errors`);
      if (HEAP_SNAPSHOTS && s.atS === REFERENCE_S) snapshotA = await takeSnapshot(m);
      if (!running) break;
    }
  })();
  const result = await done;
  await sampler;
  if (HEAP_SNAPSHOTS) snapshotB = await takeSnapshot(m);
  const { peakRss, cores } = phase();
  // Events still on their way when the load stopped.
  const expectedTotal = expected();
  await settle(deliveredOfConfirmed, expectedTotal, 30_000);
  subs.closing = true;
  await Promise.all(subs.clients.map((c) => c.dispose()));

  // A soak shorter than two minutes compares what it has (development runs).
  const span = (from: number) => {
    let picked = samples.flatMap((s, i) => (s.atS > from && s.atS <= from + SPAN_S ? [i] : []));
    if (picked.length === 0) picked = [samples.length - 1];
    const live = picked.flatMap((i) => samples[i].afterMajorGc ?? []);
    return {
      rss: picked.reduce((n, i) => n + samples[i].rss, 0) / picked.length,
      afterMajorGc: live.reduce((n, x) => n + x, 0) / live.length,
      p99: percentile(picked.flatMap((i) => windows[i]).sort((a, b) => a - b), 99),
    };
  };
  let heapDiff: string | undefined;
  if (snapshotA && snapshotB) heapDiff = diffSnapshots(snapshotA, snapshotB);
  return {
    samples,
    peakRss,
    cores,
    reference: span(REFERENCE_S),
    end: span(Math.max(REFERENCE_S, samples.at(-1)!.atS - SPAN_S)),
    requests: tally.requests,
    errors: tally.errors + transportErrors(result),
    firstErrors: [...tally.firstErrors, ...subs.firstDrops],
    delivered: deliveredOfConfirmed(),
    expected: expectedTotal,
    dropped: subs.dropped,
    notLive,
    heapDiff,
  };
}

// ── Heap snapshots (BENCH_HEAP_SNAPSHOTS=1) ────────────────────────────────

async function takeSnapshot(m: Measured): Promise<string> {
  const file = path.join(tmpdir(), `portcullis-memory-${randomBytes(6).toString('hex')}.heapsnapshot`);
  await m.heap(file);
  return file;
}

/** Self size and count of each constructor (objects) or kind (strings, code, arrays…) in a snapshot. */
function summarizeSnapshot(file: string): Map<string, { count: number; size: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  rmSync(file, { force: true });
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [width, iType, iName, iSize] = [fields.length, fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
  const byName = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]];
    const name = type === 'object' || type === 'native' ? snap.strings[snap.nodes[i + iName]] : `(${type})`;
    const entry = byName.get(name) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += snap.nodes[i + iSize];
    byName.set(name, entry);
  }
  return byName;
}

function diffSnapshots(a: string, b: string): string {
  const before = summarizeSnapshot(a);
  const after = summarizeSnapshot(b);
  const rows = [...new Set([...before.keys(), ...after.keys()])]
    .map((name) => {
      const x = before.get(name) ?? { count: 0, size: 0 };
      const y = after.get(name) ?? { count: 0, size: 0 };
      return { name, count: y.count - x.count, size: y.size - x.size, total: y.size };
    })
    .sort((p, q) => q.size - p.size)
    .slice(0, 15);
  return [
    '| constructor | Δ count | Δ self size KiB | self size at the end KiB |',
    '| --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.name.slice(0, 60).replace(/\|/g, '\\|')} | ${r.count} | ${(r.size / 1024).toFixed(0)} | ${(r.total / 1024).toFixed(0)} |`),
  ].join('\n');
}

// ── One database ───────────────────────────────────────────────────────────

interface ProviderResult {
  provider: Provider;
  idle: IdlePoint[];
  load: LoadResult;
  soak: SoakResult;
}

async function seed(url: string, provider: Provider, databaseUrl: string): Promise<Fixture> {
  const create = (email: string, password?: string) =>
    graphqlCall(url, 'mutation($i: CreateUserInput!) { createUser(input: $i) { __typename ... on CreateUserSuccess { user { id } } } }', { i: { email, password } }).then(
      (d) => d.createUser.user.id as string,
    );
  const passwordUsers = await Promise.all(Array.from({ length: PASSWORD_USERS }, (_, i) => create(`bench-password-${i}@example.com`, PASSWORD)));
  const subscribedUsers = await Promise.all(Array.from({ length: SUBSCRIBED_USERS }, (_, i) => create(`bench-subscribed-${i}@example.com`)));
  const totpUsers = await seedTotpUsers(provider, databaseUrl, TOTP_USERS);
  return { passwordUsers, totpUsers, subscribedUsers };
}

async function benchProvider(provider: Provider, withFloor: boolean): Promise<{ result: ProviderResult; floor?: IdlePoint[] }> {
  const { databaseUrl, dataDir, cleanup } = await benchDatabase(provider);
  cleanups.add(cleanup);
  let gateway: Measured | undefined;
  try {
    const env = {
      ...gatewayEnv({ databaseUrl, dataDir }),
      // One client address sends every sign-in: the per-address and per-identifier limits would refuse most of them.
      PORTCULLIS_PUBLIC_RATE_LIMIT: '0',
      PORTCULLIS_LOGIN_IDENTIFIER_RATE_LIMIT: '0',
      // Replays of a TOTP step count towards the code lockout; the load repeats users within a step.
      PORTCULLIS_LOCKOUT_CODE_ATTEMPTS: '1000',
    };
    // The gateway as `npm start` runs it, Node flags included.
    const start = npmStart();
    gateway = await Measured.start(start.args, { ...env, ...start.env }, GATEWAY_LISTENING);
    console.log(`${provider}: gateway pid ${gateway.pid} at ${gateway.url}; idle for ${IDLE_AT_S.at(-1)} s${withFloor ? ' (the bare node:http floor idles alongside)' : ''}`);
    // Both only idle: measuring them side by side costs no accuracy and saves a minute.
    const [idlePoints, floor] = await Promise.all([idle(gateway), withFloor ? floorIdle() : undefined]);
    for (const p of idlePoints) console.log(`  idle ${p.atS} s: RSS ${mib(p.proc.rss)} MiB, heap used ${mib(p.heap.heapUsed)} MiB`);

    const fixture = await seed(gateway.url, provider, databaseUrl);
    console.log(`${provider}: load, ${CONNECTIONS} connections for ${LOAD_S} s`);
    const loadResult = await load(gateway, fixture);
    console.log(
      `  ${loadResult.rps.toFixed(0)} req/s, p50 ${loadResult.p50} ms, p99 ${loadResult.p99} ms, ${loadResult.errors} errors; gateway CPU ${loadResult.cores.toFixed(2)} cores; RSS peak ${mib(loadResult.peakRss)} MiB, end ${mib(loadResult.endRss)} MiB`,
    );
    for (const e of loadResult.firstErrors) console.log(`  error: ${e}`);

    console.log(`${provider}: soak, ${SOAK_RATE} req/s for ${SOAK_S} s with ${SUBSCRIPTIONS} subscriptions`);
    const soakResult = await soak(gateway, fixture);
    console.log(
      `  ${(soakResult.requests / SOAK_S).toFixed(0)} req/s, gateway CPU ${soakResult.cores.toFixed(2)} cores, ${soakResult.errors} errors, events ${soakResult.delivered} of ${soakResult.expected}, ${soakResult.dropped + soakResult.notLive} subscriptions dropped`,
    );
    for (const e of soakResult.firstErrors) console.log(`  error: ${e}`);
    if (soakResult.heapDiff) console.log(`\nheap growth from ${REFERENCE_S} s to the end of the soak, by constructor:\n${soakResult.heapDiff}\n`);
    return { result: { provider, idle: idlePoints, load: loadResult, soak: soakResult }, floor };
  } finally {
    if (gateway) await gateway.stop();
    await cleanup();
    cleanups.delete(cleanup);
  }
}

// ── Report ─────────────────────────────────────────────────────────────────

const change = (from: number, to: number) => `${to >= from ? '+' : ''}${(((to - from) / from) * 100).toFixed(0)}%`;

function soakVerdict(s: SoakResult) {
  const failures: string[] = [];
  const grew = (from: number, to: number) => to > from * (1 + TARGETS.soakDrift);
  // Whether the live heap grew too tells a leak from the collector's rhythm.
  if (grew(s.reference.rss, s.end.rss)) failures.push(grew(s.reference.afterMajorGc, s.end.afterMajorGc) ? 'RSS grew, and the live heap' : 'RSS grew; the live heap did not');
  if (grew(s.reference.p99, s.end.p99)) failures.push('p99 grew');
  if (s.errors > 0) failures.push('errors');
  if (s.dropped > 0 || s.notLive > 0) failures.push('subscriptions dropped');
  if (s.delivered < s.expected) failures.push('events missed');
  return failures.length === 0 ? 'pass' : `fail (${failures.join(', ')})`;
}

function report(results: ProviderResult[], floor: IdlePoint[] | undefined): string {
  const at = (points: IdlePoint[], s: number) => points.find((p) => p.atS === s)!;
  const idleRows = [...(floor ? [{ name: 'bare node:http (floor)', points: floor }] : []), ...results.map((r) => ({ name: `gateway, ${r.provider}`, points: r.idle }))];
  const last = IDLE_AT_S.at(-1)!;
  const space = (h: HeapSample, ...names: string[]) => names.reduce((acc, n) => acc + (h.spaces[n] ?? 0), 0);
  const lines = [
    `Idle (no traffic, after the process printed its address; target ≤ ${TARGETS.idleMiB} MiB):`,
    '',
    `| process | RSS 15 s | RSS ${last} s | file-backed | anonymous | V8 heap committed | heap used: new / old / code / large objects | external (ArrayBuffers) |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...idleRows.map(({ name, points }) => {
      const [a, b] = [at(points, IDLE_AT_S[0]), at(points, last)];
      const h = b.heap;
      return `| ${name} | ${mib(a.proc.rss)} | ${mib(b.proc.rss)} | ${mib(b.proc.file)} | ${mib(b.proc.anon)} | ${mib(h.heapTotal)} | ${mib(h.heapUsed)}: ${mib(space(h, 'new_space', 'new_large_object_space'))} / ${mib(space(h, 'old_space'))} / ${mib(space(h, 'code_space', 'code_large_object_space'))} / ${mib(space(h, 'large_object_space'))} | ${mib(h.external)} (${mib(h.arrayBuffers)}) |`;
    }),
    '',
    `Under load (${CONNECTIONS} connections, as fast as answered, ${LOAD_S} s; target ≤ ${TARGETS.loadMiB} MiB):`,
    '',
    '| gateway | req/s | p50 ms | p99 ms | errors | gateway CPU (cores) | RSS peak | RSS at the end | heap used at the end |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(({ provider, load: l }) => `| ${provider} | ${l.rps.toFixed(0)} | ${l.p50} | ${l.p99} | ${l.errors} of ${l.requests} | ${l.cores.toFixed(2)} | ${mib(l.peakRss)} | ${mib(l.endRss)} | ${mib(l.endHeap.heapUsed)} |`),
    '',
    `Soak (${SOAK_RATE} req/s for ${SOAK_S} s, ${SUBSCRIPTIONS} subscriptions; the last minute within ${TARGETS.soakDrift * 100}% of the second, no errors):`,
    '',
    `| gateway | RSS 2nd minute → last | heap after full GC, 2nd minute → last | p99 ms 2nd minute → last | RSS peak | req/s | gateway CPU (cores) | errors | events delivered | subscriptions dropped | verdict |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...results.map(({ provider, soak: s }) =>
      [
        provider,
        `${mib(s.reference.rss)} → ${mib(s.end.rss)} (${change(s.reference.rss, s.end.rss)})`,
        `${mib(s.reference.afterMajorGc)} → ${mib(s.end.afterMajorGc)} (${change(s.reference.afterMajorGc, s.end.afterMajorGc)})`,
        `${s.reference.p99} → ${s.end.p99} (${change(s.reference.p99, s.end.p99)})`,
        mib(s.peakRss),
        (s.requests / SOAK_S).toFixed(0),
        s.cores.toFixed(2),
        s.errors,
        `${s.delivered} of ${s.expected}`,
        s.dropped + s.notLive,
        soakVerdict(s),
      ].join(' | ').replace(/^/, '| ').concat(' |'),
    ),
  ];
  // The samples, once a minute (and the last), side by side.
  const minutes = results[0]?.soak.samples.filter((s, i, all) => s.atS % 60 === 0 || s.atS === SAMPLE_S || i === all.length - 1).map((s) => s.atS) ?? [];
  if (minutes.length > 0) {
    lines.push(
      '',
      'Soak samples (MiB, p99 of the 10 s before each sample):',
      '',
      `| s | ${results.map((r) => `${r.provider} RSS | heap committed | heap used | after full GC | p99 ms | errors`).join(' | ')} |`,
      `| ---: | ${results.map(() => '---: | ---: | ---: | ---: | ---: | ---:').join(' | ')} |`,
      ...minutes.map((t) => {
        const cells = results.map((r) => {
          const s = r.soak.samples.find((x) => x.atS === t);
          return s ? `${mib(s.rss)} | ${mib(s.heapTotal)} | ${mib(s.heapUsed)} | ${mib(s.afterMajorGc)} | ${s.p99} | ${s.errors}` : '– | – | – | – | – | –';
        });
        return `| ${t} | ${cells.join(' | ')} |`;
      }),
    );
  }
  const verdicts = results.flatMap(({ provider, idle: i, load: l, soak: s }) => [
    `- ${provider}: idle ${mib(at(i, last).proc.rss)} MiB at ${last} s: ${at(i, last).proc.rss <= TARGETS.idleMiB * MiB ? 'meets' : 'misses'} ≤ ${TARGETS.idleMiB} MiB; load peak ${mib(l.peakRss)} MiB: ${l.peakRss <= TARGETS.loadMiB * MiB ? 'meets' : 'misses'} ≤ ${TARGETS.loadMiB} MiB; soak: ${soakVerdict(s)}`,
  ]);
  lines.push('', ...verdicts);
  return lines.join('\n');
}

function printSamples(r: ProviderResult) {
  console.log(`\n${r.provider} soak, every ${SAMPLE_S} s:\n`);
  console.log('| s | RSS MiB | V8 heap committed MiB | heap used MiB | after full GC MiB | p99 ms | requests | events | errors |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of r.soak.samples) console.log(`| ${s.atS} | ${mib(s.rss)} | ${mib(s.heapTotal)} | ${mib(s.heapUsed)} | ${mib(s.afterMajorGc)} | ${s.p99} | ${s.requests} | ${s.delivered} | ${s.errors} |`);
  console.log(`peak RSS ${mib(r.soak.peakRss)} MiB`);
}

async function main() {
  if (!existsSync('/proc/self/status')) throw new Error('the memory bench reads /proc: run it on Linux');
  const started = Date.now();
  if (process.env.BENCH_NODE_OPTIONS) console.log(`measured processes run with ${process.env.BENCH_NODE_OPTIONS}`);
  console.log(`memory bench: ${PROVIDERS.join(', ')}; idle ${IDLE_AT_S.join('/')} s, load ${LOAD_S} s × ${CONNECTIONS} connections, soak ${SOAK_S} s at ${SOAK_RATE} req/s with ${SUBSCRIPTIONS} subscriptions`);
  const results: ProviderResult[] = [];
  let floor: IdlePoint[] | undefined;
  for (const [i, provider] of PROVIDERS.entries()) {
    const r = await benchProvider(provider, i === 0);
    results.push(r.result);
    floor ??= r.floor;
    printSamples(r.result);
  }
  const text = report(results, floor);
  const loadAverage = loadavg().map((x) => x.toFixed(1)).join(' ');
  console.log(`\n${text}\n\n(${((Date.now() - started) / 1000).toFixed(0)} s in all; load average ${loadAverage})`);
  // Every figure of the run, for a second look without a second run (bench/results/ is not committed).
  const resultsDir = path.join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const settings = { LOAD_S, SOAK_S, SOAK_RATE, CONNECTIONS, SOAK_CONNECTIONS, SUBSCRIPTIONS, machine: machine(), loadAverage };
  writeFileSync(path.join(resultsDir, `memory-${stamp}.json`), JSON.stringify({ settings, floor, results }, null, 1));
  writeReadmeSection(
    'memory',
    [
      '## memory',
      '',
      '`npm run bench -- memory` (bench/memory.ts). Each measured process is a child started with',
      '`NODE_OPTIONS=--import bench/memory-probe.mjs`: on SIGUSR2 the probe writes `process.memoryUsage()` and the V8 heap',
      'spaces to a file (no debug endpoint in the gateway); resident memory, its file-backed part (the node binary, native',
      "addons) and anonymous part (V8's heap, malloc, WebAssembly memory), and its peak (the kernel's mark, reset before each",
      'phase) come from /proc/<pid>/status. The gateway (`portcullis start`, NODE_ENV=production, the default log level,',
      '127.0.0.1, random port) runs on SQLite in a temporary folder and then on a new PostgreSQL database, dropped after;',
      'the floor is a bare node:http server (same node, same flags, same probe) idling alongside the first gateway.',
      `One gateway process goes through three phases: idle (${IDLE_AT_S.join(' s and ')} s after it printed its address, no`,
      `traffic); load (autocannon, ${CONNECTIONS} connections for ${LOAD_S} s, a cycle of 20 requests: 1 \`login\`, 1 \`verifyPassword\``,
      '(argon2id at the defaults), 4 `verifyTotp` over 3,000 enrolled users, 7 `user(id)`, 4 `users(first: 20)` and 3',
      `\`updateUser\`); soak (the same cycle at ${SOAK_RATE} req/s for ${SOAK_S} s while ${SUBSCRIPTIONS} graphql-ws subscriptions, one WebSocket`,
      `each, follow \`userEvents\` of the ${SUBSCRIBED_USERS} users the updates change, all proved live before the clock starts; every`,
      'event must arrive). The soak rate is well under capacity: this cycle costs about 4.5 ms of main-thread time per',
      'request (a login 14 ms, a `user(id)` with its methods 7 ms), so one process tops out near 220 req/s on an idle',
      'machine. The per-address and per-identifier sign-in limits are off (one client address sends everything).',
      `A sample every ${SAMPLE_S} s. "2nd minute → last" compares the soak's second minute (after the first, which fills caches`,
      "and compiles the hot code) with its last: the mean of the RSS samples (RSS rises and falls by tens of MiB with V8's",
      'collection cycles within a minute), the mean heap in use just after the latest full collection (the live heap,',
      "which a leak makes grow whatever the collector's rhythm; the probe watches `gc` performance entries) and the p99",
      'of all requests in each minute. The',
      'soak passes with neither grown by more than 10% (a fall is not a failure), no non-2xx, GraphQL error or unexpected',
      'answer, no subscription dropped and every event delivered. MiB = 2^20 bytes.',
      `Measured on ${machine()}, ${new Date().toISOString().slice(0, 10)}, load average ${loadAverage} at the end (the machine is shared)${process.env.BENCH_NODE_OPTIONS ? `; measured processes with ${process.env.BENCH_NODE_OPTIONS}` : ''}:`,
      '',
      text,
    ].join('\n'),
  );
  process.exit(0);
}

await main();

/** `npm start`'s command line: its environment assignments, and its arguments without the leading `node` (the benchmark measures what users run). */
function npmStart(): { env: Record<string, string>; args: string[] } {
  const start = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const words = start.split(/\s+/);
  const env: Record<string, string> = {};
  while (/^[A-Z_][A-Z0-9_]*=/.test(words[0] ?? '')) {
    const [name, ...value] = words.shift()!.split('=');
    env[name] = value.join('=');
  }
  const [node, ...args] = words;
  if (node !== 'node') throw new Error(`npm start runs ${node}, not node: the benchmark cannot start it the same way`);
  return { env, args };
}
