/**
 * The fan-out row of `npm run bench -- hot-paths`: 1,000 WebSocket subscribers
 * (graphql-ws, `userEvents`) over 10 users (100 each), and 200 `updateUser`
 * mutations a second over HTTP, each making one event for one of those
 * users: 20,000 deliveries a second. Baseline, in alternating rounds: a bare
 * `ws` server (child process) broadcasting a message of the same shape and
 * size to the same number of sockets, 100 per topic, at the same rate.
 *
 * Both sides keep their 1,000 sockets open for the whole run; only the side
 * being measured is driven. The clients are plain `ws` sockets speaking the
 * graphql-transport-ws protocol by hand on both sides, so the client's cost
 * per message is the same (a JSON.parse) whichever server sent it.
 *
 * Measured per side: deliveries per second (this round's deliveries over the
 * time from the first send until the last one arrived, bounded), latency from
 * the event being written (its occurredAt, taken inside the mutation's
 * transaction; for the baseline, the moment the bench hands it over) to a
 * subscriber receiving it, the server's CPU per delivery, and for the
 * gateway the mutations' own latency and achieved rate, with and without
 * subscribers. BENCH_FANOUT_RATE (200), BENCH_FANOUT_SUBSCRIBERS (1000) and
 * BENCH_FANOUT_USERS (10) change the shape; BENCH_GATEWAY_PROFILE (a folder,
 * bench/lib.ts) has the gateway write a CPU profile there.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import WebSocket, { WebSocketServer } from 'ws';
import {
  API_KEY,
  GATEWAY_LISTENING,
  benchDatabase,
  cpuOf,
  cpuPerRequest,
  describeRow,
  gatewayEnv,
  graphqlCall,
  percentile,
  startChild,
  stopChild,
  alternate,
  type Row,
  gatewayScript,
} from '../lib.js';
import type { HotGroup, HotRow } from './types.js';

const RATE = Number(process.env.BENCH_FANOUT_RATE ?? 200);
const SUBSCRIBERS = Number(process.env.BENCH_FANOUT_SUBSCRIBERS ?? 1000);
const USERS = Number(process.env.BENCH_FANOUT_USERS ?? 10);
/** How long a round may wait after its last send for deliveries still on their way. */
const DRAIN_LIMIT_MS = 10_000;
/**
 * Mutations in flight at most, like a client's connection pool: an overloaded
 * gateway shows as a lower achieved rate instead of thousands of requests
 * queued in it (which on SQLite also wait for the one writer, and time out).
 */
const MAX_IN_FLIGHT = 64;

const SUBSCRIPTION = 'subscription Follow($id: ID!) { userEvents(userId: $id) { id type occurredAt actor { type id } data } }';
const UPDATE = 'mutation Tag($id: ID!, $n: String!) { updateUser(input: { userId: $id, displayName: $n }) { __typename } }';

// ── The baseline: a bare ws broadcast server (child process) ──────────────

if (process.argv[2] === 'fanout-baseline') {
  const wss = new WebSocketServer({ noServer: true });
  const topics = new Map<string, Set<WebSocket>>();
  const http = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const { topic, payload } = JSON.parse(body) as { topic: string; payload: unknown };
      // One serialization, the same frame to every socket of the topic: the transport alone.
      const frame = JSON.stringify({ id: '1', type: 'next', payload });
      for (const socket of topics.get(topic) ?? []) socket.send(frame);
      res.end('{}');
    });
  });
  http.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const topic = new URL(req.url ?? '/', 'http://x').searchParams.get('topic') ?? '';
      let set = topics.get(topic);
      if (!set) topics.set(topic, (set = new Set()));
      set.add(ws);
      ws.on('close', () => set.delete(ws));
    });
  });
  http.keepAliveTimeout = 60_000;
  http.listen(0, '127.0.0.1', () => console.log(`baseline listening on http://127.0.0.1:${(http.address() as AddressInfo).port}/`));
  process.on('SIGTERM', () => process.exit(0));
}

// ── Clients ────────────────────────────────────────────────────────────────

/** What a round counts: deliveries of its own tags, and their latencies. */
class Tally {
  delivered = 0;
  latencies: number[] = [];
  last = 0;
  constructor(readonly prefix: string) {}
}

let current: Tally | undefined;

/** Counts one received event: `tag` names the round and mutation, `writtenAt` is when the event was written (ms since epoch). */
function received(tag: string | undefined, writtenAt: number) {
  const tally = current;
  if (!tally || !tag?.startsWith(tally.prefix)) return;
  tally.delivered++;
  tally.latencies.push(Date.now() - writtenAt);
  tally.last = performance.now();
}

type NextMessage = { type: string; payload?: { data?: { userEvents?: { occurredAt: string; data: { user?: { displayName?: string } } } }; errors?: unknown } };

/** A socket's messages as events: the tag and the time the event was written. */
function onEvents(socket: WebSocket, problems: string[]) {
  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw)) as NextMessage;
    if (message.type !== 'next') {
      if (message.type !== 'connection_ack' && message.type !== 'pong') problems.push(String(raw).slice(0, 300));
      return;
    }
    const event = message.payload?.data?.userEvents;
    if (!event) return void problems.push(String(raw).slice(0, 300));
    received(event.data.user?.displayName, Date.parse(event.occurredAt));
  });
}

/** Opens `count` graphql-ws subscribers (by hand: connection_init, then subscribe) to the users' events. */
async function gatewaySubscribers(url: string, key: string, users: string[], problems: string[]): Promise<WebSocket[]> {
  const wsUrl = url.replace(/^http/, 'ws');
  const sockets: WebSocket[] = [];
  // In batches, so the gateway authenticates a bounded number of sockets at a time.
  for (let start = 0; start < SUBSCRIBERS; start += 100) {
    const batch = Array.from({ length: Math.min(100, SUBSCRIBERS - start) }, (_, j) => {
      const s = start + j;
      const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
      sockets.push(socket);
      return new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } })));
        socket.once('message', (raw) => {
          const ack = JSON.parse(String(raw)) as { type: string };
          if (ack.type !== 'connection_ack') return reject(new Error(`not acknowledged: ${String(raw)}`));
          onEvents(socket, problems);
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION, operationName: 'Follow', variables: { id: users[s % users.length] } } }));
          resolve();
        });
      });
    });
    await Promise.all(batch);
  }
  return sockets;
}

async function baselineSubscribers(url: string, problems: string[]): Promise<WebSocket[]> {
  const sockets = Array.from({ length: SUBSCRIBERS }, (_, s) => {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}?topic=u${s % USERS}`);
    onEvents(socket, problems);
    return socket;
  });
  await Promise.all(sockets.map((socket) => new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))));
  return sockets;
}

// ── Driving ────────────────────────────────────────────────────────────────

/**
 * Sends RATE messages a second for `seconds` on a fixed schedule (open loop:
 * a slow answer does not delay the next send), at most MAX_IN_FLIGHT at once.
 * Returns the sends' latencies (ms, from when each was due) and how many were made.
 */
async function drive(seconds: number, send: (i: number) => Promise<void>): Promise<{ latencies: number[]; sent: number; failed: number; elapsedS: number; error?: string }> {
  const total = Math.round(RATE * seconds);
  const started = performance.now();
  const latencies: number[] = [];
  const inflight = new Set<Promise<void>>();
  let failed = 0;
  let error: string | undefined;
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    while (inflight.size >= MAX_IN_FLIGHT) await Promise.race(inflight);
    // From when it was due, not when a slot freed: a mutation waiting for a slot is a queued mutation too.
    const p: Promise<void> = send(i).then(
      () => void latencies.push(performance.now() - due),
      (e: unknown) => {
        failed++;
        error ??= String(e).slice(0, 200);
      },
    );
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }
  await Promise.all(inflight);
  return { latencies: latencies.sort((a, b) => a - b), sent: total, failed, elapsedS: (performance.now() - started) / 1000, error };
}

/** Waits until `expected` deliveries arrived or nothing new came for a while (bounded). */
async function drain(tally: Tally, expected: number) {
  const until = performance.now() + DRAIN_LIMIT_MS;
  while (tally.delivered < expected && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
}

let rounds = 0;

/** One measured load of one side: drives it, waits for its deliveries, and turns them into a Row. */
async function measure(
  name: string,
  seconds: number,
  serverPid: number,
  send: (tag: string, userIndex: number) => Promise<void>,
): Promise<Row & { mutations: Awaited<ReturnType<typeof drive>> }> {
  const tally = new Tally(`r${++rounds}-`);
  current = tally;
  const before = cpuOf(serverPid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const mutations = await drive(seconds, (i) => send(`${tally.prefix}${i}`, i % USERS));
  const expected = mutations.sent * (SUBSCRIBERS / USERS);
  await drain(tally, expected);
  const elapsedS = Math.max(seconds, ((tally.last || performance.now()) - started) / 1000);
  const cpu = cpuPerRequest(before, cpuOf(serverPid), tally.delivered);
  const clientCpu = process.cpuUsage(clientBefore);
  current = undefined;
  clientCpuShare.push((clientCpu.user + clientCpu.system) / 1000 / (elapsedS * 1000));
  const sorted = tally.latencies.sort((a, b) => a - b);
  return { name, rps: tally.delivered / elapsedS, p50: percentile(sorted, 50), p99: percentile(sorted, 99), ok: tally.delivered, total: expected, cpu, mutations };
}

/** The bench process's CPU (cores) during each round: whether the client side could be the bottleneck. */
const clientCpuShare: number[] = [];

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
function mutationNote(label: string, m: Awaited<ReturnType<typeof drive>>[], seconds: number) {
  const latencies = m.flatMap((x) => x.latencies).sort((a, b) => a - b);
  const done = latencies.length;
  const failed = m.reduce((a, x) => a + x.failed, 0);
  const error = m.find((x) => x.error)?.error;
  const elapsed = m.reduce((a, x) => a + x.elapsedS, 0) || seconds;
  return `${label}: ${(done / elapsed).toFixed(0)}/s answered of ${RATE}/s offered, p50 ${ms(percentile(latencies, 50))} ms, p99 ${ms(percentile(latencies, 99))} ms${failed ? `, ${failed} failed (${error})` : ''}`;
}

// ── The group ──────────────────────────────────────────────────────────────

export const run: HotGroup = async (ctx) => {
  const { databaseUrl, dataDir, cleanup } = await benchDatabase(ctx.provider);
  const gateway = await startChild([gatewayScript(), 'start'], { ...gatewayEnv({ databaseUrl, dataDir }), LOG_LEVEL: 'warn', PORTCULLIS_GRAPHIQL: 'false' }, GATEWAY_LISTENING);
  let baseline: Awaited<ReturnType<typeof startChild>> | undefined;
  const sockets: WebSocket[] = [];
  const problems: string[] = [];
  try {
    const url = gateway.url;
    const users: string[] = [];
    for (let u = 0; u < USERS; u++) {
      const d = await graphqlCall(url, 'mutation($e: String) { createUser(input: { email: $e }) { ... on CreateUserSuccess { user { id } } } }', { e: `fanout${u}@example.com` });
      users.push(d.createUser.user.id);
    }
    // The subscribers hold a narrow key of their own; the mutations use the bootstrap key.
    const created = await graphqlCall(url, 'mutation { createApiKey(input: { name: "fanout subscribers", scopes: ["events:read"] }) { ... on CreateApiKeySuccess { key } } }');
    const subscriberKey = created.createApiKey.key as string;
    const update = (tag: string, u: number) => graphqlCall(url, UPDATE, { id: users[u], n: tag }).then(() => undefined);

    // The mutations alone first: their latency without subscribers.
    const alone: Awaited<ReturnType<typeof drive>>[] = [];
    await drive(ctx.warmupS, (i) => update(`warm-${i}`, i % USERS));
    const aloneCpu = cpuOf(gateway.child.pid!);
    for (let r = 0; r < ctx.rounds; r++) alone.push(await drive(ctx.durationS / ctx.rounds, (i) => update(`alone-${r}-${i}`, i % USERS)));
    // The gateway's CPU per mutation without subscribers: what a delivery's share of CPU is measured against.
    const perMutation = cpuPerRequest(aloneCpu, cpuOf(gateway.child.pid!), alone.reduce((a, x) => a + x.latencies.length, 0));

    baseline = await startChild(['--import', 'tsx', 'bench/hot-paths/fanout.ts', 'fanout-baseline'], {}, /baseline listening on (\S+)/);
    const baselineUrl = baseline.url;
    sockets.push(...(await gatewaySubscribers(url, subscriberKey, users, problems)));
    sockets.push(...(await baselineSubscribers(baselineUrl, problems)));
    // The acknowledgement comes before the subscription is live: let the last ones settle.
    await new Promise((r) => setTimeout(r, 1000));
    ctx.log(`${SUBSCRIBERS} subscribers on each side over ${USERS} users; ${RATE} events/s → ${(RATE * SUBSCRIBERS) / USERS} deliveries/s`);

    const withSubscribers: Awaited<ReturnType<typeof drive>>[] = [];
    const bare = (tag: string, u: number) => {
      // The same shape and size as the gateway's message.
      const payload = {
        data: {
          userEvents: {
            id: 'evt_0000000000000000000000000',
            type: 'USER_UPDATED',
            occurredAt: new Date().toISOString(),
            actor: { type: 'bootstrap_key', id: null },
            data: { user: { id: users[u], displayName: tag }, changes: ['displayName'] },
          },
        },
      };
      return fetch(baselineUrl, { method: 'POST', body: JSON.stringify({ topic: `u${u}`, payload }) }).then((r) => void r.arrayBuffer());
    };
    let warm = true;
    const [gatewayRow, baselineRow] = await alternate(
      async (seconds) => {
        const row = await measure(`gateway userEvents (graphql-ws)`, seconds, gateway.child.pid!, update);
        if (!warm) withSubscribers.push(row.mutations);
        ctx.log(`  ${describeRow(row)} (ms/delivery)`);
        return row;
      },
      async (seconds) => {
        const row = await measure('bare ws broadcast', seconds, baseline!.child.pid!, bare);
        warm = false;
        ctx.log(`  ${describeRow(row)} (ms/delivery)`);
        return row;
      },
      { durationS: ctx.durationS, rounds: ctx.rounds, warmupS: ctx.warmupS },
    );
    const ratio = gatewayRow.rps / baselineRow.rps;
    const clientCores = Math.max(...clientCpuShare);
    const notes = [
      `${SUBSCRIBERS} subscribers (100 per user), ${RATE} updateUser/s, ${(RATE * SUBSCRIBERS) / USERS} deliveries/s offered; req/s here is deliveries/s, CPU is per delivery; latency from the event written to a subscriber receiving it`,
      mutationNote('mutations with subscribers', withSubscribers, ctx.durationS),
      mutationNote('mutations without subscribers', alone, ctx.durationS) +
        (perMutation ? `; gateway CPU ${perMutation.all.toFixed(2)} ms per mutation (main thread ${perMutation.main.toFixed(2)})` : ''),
      ...(perMutation && gatewayRow.cpu
        ? [
            `gateway CPU per delivery less its mutation's share (1/${SUBSCRIBERS / USERS} of a mutation): ${(gatewayRow.cpu.all - perMutation.all / (SUBSCRIBERS / USERS)).toFixed(3)} ms (main thread ${(gatewayRow.cpu.main - perMutation.main / (SUBSCRIBERS / USERS)).toFixed(3)})`,
          ]
        : []),
      `delivered ${gatewayRow.ok}/${gatewayRow.total} (gateway), ${baselineRow.ok}/${baselineRow.total} (baseline); the bench process (all 2,000 clients) used at most ${clientCores.toFixed(2)} cores in a round`,
      ...(problems.length ? [`${problems.length} unexpected messages, e.g. ${problems[0]}`] : []),
    ];
    for (const n of notes) ctx.log(n);
    // Not queued behind fan-out: the mutations keep their offered rate with subscribers.
    const answered = withSubscribers.reduce((a, x) => a + x.latencies.length, 0) / (withSubscribers.reduce((a, x) => a + x.elapsedS, 0) || 1);
    const met = ratio >= 0.8 && gatewayRow.p99 <= 100 && answered >= 0.95 * RATE;
    const row: HotRow = {
      provider: ctx.provider,
      operation: 'userEvents fan-out',
      gateway: gatewayRow,
      baseline: baselineRow,
      ratio,
      target: 'deliveries/s ≥ 0.8 of the bare broadcast, p99 ≤ 100 ms, mutations not queued',
      met,
      notes,
    };
    return [row];
  } finally {
    for (const socket of sockets) socket.terminate();
    await stopChild(gateway.child);
    if (baseline) await stopChild(baseline.child);
    await cleanup();
  }
};
