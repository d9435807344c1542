/**
 * `npm run bench -- events`: event fan-out under load, on one gateway
 * instance (a child process on 127.0.0.1, SQLite in a temporary folder).
 *
 * - BENCH_SUBSCRIBERS (1000) graphql-ws clients, each on its own WebSocket,
 *   subscribe to userEvents of BENCH_USERS (10) users, spread evenly.
 * - updateUser mutations are sent at BENCH_RATE per second (20) for
 *   BENCH_SECONDS (5), round-robin over the users; each event reaches
 *   subscribers / users clients.
 * - Reported: delivered events per second, mutation-to-subscriber latency
 *   (from sending the mutation to the client receiving the event) p50/p99,
 *   and webhook deliveries per second to a local receiver (one app, every event).
 * - Baseline in the same run: a bare `ws` broadcast server (child process)
 *   relaying the same messages at the same rate to the same number of
 *   clients: what the transport alone costs. Ratios = gateway ÷ baseline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient } from 'graphql-ws';
import WebSocket, { WebSocketServer } from 'ws';
import { graphqlCall, percentile, settle } from './lib.js';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const USERS = Number(process.env.BENCH_USERS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const KEY = 'bench-bootstrap-key-0123456789abcdef';
const root = path.resolve(import.meta.dirname, '..');

// ---- baseline server mode: a bare ws broadcast relay ----
if (process.argv[2] === '--baseline-server') {
  const http = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const { topic, payload } = JSON.parse(body) as { topic: string; payload: unknown };
      const frame = JSON.stringify({ type: 'next', payload });
      for (const client of wss.clients) if ((client as WebSocket & { topic?: string }).topic === topic) client.send(frame);
      res.end('{}');
    });
  });
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (socket, req) => {
    (socket as WebSocket & { topic?: string }).topic = new URL(req.url ?? '/', 'http://x').searchParams.get('topic') ?? '';
  });
  http.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (http.address() as AddressInfo).port })}\n`));
  await new Promise(() => {});
}

// Bounded: a run that hangs fails instead of waiting forever.
const watchdog = setTimeout(() => {
  console.error('events bench: gave up after 5 minutes');
  process.exit(1);
}, 300_000);
watchdog.unref();
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

async function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child did not start: ${out}`)), 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => reject(new Error(`child exited ${code}: ${out}`)));
  });
}

const gql = (url: string, query: string, variables: Record<string, unknown> = {}) => graphqlCall(url, query, variables, KEY);

let mutationP50 = NaN;
let eventToSubscriber = { p50: NaN, p99: NaN };
let burstResult = { deliveries: 0, seconds: NaN };

interface RunResult {
  delivered: number;
  expected: number;
  seconds: number;
  latencies: number[];
}

/** Sends RATE "mutations" per second for SECONDS; `send(i)` returns once the mutation answered. */
async function drive(send: (i: number, userIndex: number) => Promise<void>) {
  const total = RATE * SECONDS;
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(send(i, i % USERS));
  }
  await Promise.all(inflight);
  return total;
}

async function gatewayRun(): Promise<RunResult & { webhookRate: number; webhooks: number }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'portcullis-bench-events-'));
  // The webhook receiver: counts deliveries and answers at once.
  let webhooks = 0;
  let firstWebhook = 0;
  let lastWebhook = 0;
  let holdWebhooks = false;
  const held: Array<import('node:http').ServerResponse> = [];
  const receiver: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (holdWebhooks) {
        held.push(res);
        return;
      }
      webhooks++;
      lastWebhook = performance.now();
      if (!firstWebhook) firstWebhook = lastWebhook;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const gateway = spawn(process.execPath, [path.join(root, 'bin/portcullis.mjs'), 'start', '--port', '0'], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      // No codes are sent in these runs; production refuses console delivery unless told.
      PORTCULLIS_ALLOW_CONSOLE_DELIVERY: 'true',
      PORTCULLIS_DATA_DIR: dataDir,
      DATABASE_URL: `file:${path.join(dataDir, 'bench.db')}`,
      PORTCULLIS_BOOTSTRAP_API_KEY: KEY,
      PORTCULLIS_WEBHOOK_ALLOW_PRIVATE: 'true',
      PORTCULLIS_GRAPHIQL: 'false',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(gateway);
  try {
    const [, url] = await waitForLine(gateway, /"url":"(http:\/\/[^"]+)"/);
    const users: string[] = [];
    for (let u = 0; u < USERS; u++) {
      const d = await gql(url, 'mutation($e: String) { createUser(input: { email: $e }) { ... on CreateUserSuccess { user { id } } } }', { e: `bench${u}@example.com` });
      users.push(d.createUser.user.id);
    }
    await gql(url, 'mutation($url: String!) { createWebhookApp(input: { name: "bench", url: $url, eventTypes: [USER_UPDATED] }) { __typename } }', {
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
    });

    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    let delivered = 0;
    const clients = [];
    const mutationMs: number[] = [];
    const sinceEvent: number[] = [];
    let ready = 0;
    for (let s = 0; s < SUBSCRIBERS; s++) {
      const userId = users[s % USERS];
      const client = createClient({ url: url.replace('http', 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${KEY}` }, retryAttempts: 0 });
      clients.push(client);
      client.subscribe(
        { query: 'subscription($id: ID!) { userEvents(userId: $id) { type occurredAt data } }', variables: { id: userId } },
        {
          next: (r: any) => {
            const tag = r.data?.userEvents?.data?.user?.displayName as string | undefined;
            const t0 = tag ? sentAt.get(tag) : undefined;
            if (t0 === undefined) return;
            delivered++;
            latencies.push(performance.now() - t0);
            // From the event's time (taken inside the mutation's transaction) to the client: the relay and fan-out alone.
            sinceEvent.push(Date.now() - Date.parse(r.data.userEvents.occurredAt));
          },
          error: (e) => console.error('subscription error', e),
          complete: () => {},
        },
      );
      client.on('connected', () => ready++);
    }
    await settle(() => ready, SUBSCRIBERS, 60_000);
    // graphql-ws acknowledges the connection before the subscription is registered; give the last ones a moment.
    await new Promise((r) => setTimeout(r, 1000));

    const t0 = performance.now();
    const total = await drive(async (i, u) => {
      const tag = `b${i}`;
      sentAt.set(tag, performance.now());
      await gql(url, 'mutation($id: ID!, $n: String!) { updateUser(input: { userId: $id, displayName: $n }) { __typename } }', { id: users[u], n: tag });
      mutationMs.push(performance.now() - sentAt.get(tag)!);
    });
    const expected = total * (SUBSCRIBERS / USERS);
    await settle(() => delivered, expected);
    const seconds = (performance.now() - t0) / 1000;
    await settle(() => webhooks, total);
    const webhookSeconds = (lastWebhook - firstWebhook) / 1000 || NaN;
    for (const c of clients) void c.dispose();
    mutationMs.sort((a, b) => a - b);
    mutationP50 = percentile(mutationMs, 50);
    sinceEvent.sort((a, b) => a - b);
    eventToSubscriber = { p50: percentile(sinceEvent, 50), p99: percentile(sinceEvent, 99) };

    const runWebhooks = webhooks;
    const runWebhookRate = webhooks / Math.max(webhookSeconds, SECONDS);
    // Webhook throughput: the receiver holds its answers while a backlog of deliveries builds up
    // (the dispatcher's concurrent requests wait on it), then answers everything at once: the
    // rate at which the dispatcher then drains the backlog is what it can send.
    const burst = 200;
    holdWebhooks = true;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < burst) {
          const i = next++;
          await gql(url, 'mutation($id: ID!, $n: String!) { updateUser(input: { userId: $id, displayName: $n }) { __typename } }', { id: users[i % USERS], n: `w${i}` });
        }
      }),
    );
    const queued = async () => (await gql(url, '{ webhookApps(first: 1) { edges { node { deliveries(first: 1) { totalCount } } } } }')).webhookApps.edges[0].node.deliveries.totalCount as number;
    const target = runWebhooks + burst;
    const until = performance.now() + 30_000;
    while ((await queued()) < target && performance.now() < until) await new Promise((r) => setTimeout(r, 100));
    const before = webhooks;
    const released = performance.now();
    holdWebhooks = false;
    for (const res of held.splice(0)) {
      webhooks++;
      lastWebhook = performance.now();
      res.writeHead(204).end();
    }
    await settle(() => webhooks - before, burst);
    burstResult = { deliveries: webhooks - before, seconds: (lastWebhook - released) / 1000 };
    return { delivered, expected, seconds, latencies, webhookRate: runWebhookRate, webhooks: runWebhooks };
  } finally {
    gateway.kill('SIGTERM');
    receiver.close();
  }
}

async function baselineRun(): Promise<RunResult> {
  const server = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'events.ts'), '--baseline-server'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(server);
  try {
    const [, port] = await waitForLine(server, /"port":(\d+)/);
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    let delivered = 0;
    const sockets: WebSocket[] = [];
    for (let s = 0; s < SUBSCRIBERS; s++) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/?topic=u${s % USERS}`);
      ws.on('message', (raw) => {
        const tag = (JSON.parse(String(raw)) as { payload: { tag: string } }).payload.tag;
        const t0 = sentAt.get(tag);
        if (t0 === undefined) return;
        delivered++;
        latencies.push(performance.now() - t0);
      });
      sockets.push(ws);
    }
    await Promise.all(sockets.map((ws) => new Promise((r) => ws.once('open', r))));
    const t0 = performance.now();
    const total = await drive(async (i, u) => {
      const tag = `b${i}`;
      sentAt.set(tag, performance.now());
      // A payload of the same shape and size as the gateway's event.
      const payload = { tag, data: { userEvents: { type: 'USER_UPDATED', data: { user: { id: `usr_${u}`, displayName: tag, email: `bench${u}@example.com`, state: 'ACTIVE' }, changes: ['displayName'] } } } };
      await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: JSON.stringify({ topic: `u${u}`, payload }) });
    });
    const expected = total * (SUBSCRIBERS / USERS);
    await settle(() => delivered, expected);
    const seconds = (performance.now() - t0) / 1000;
    for (const ws of sockets) ws.terminate();
    return { delivered, expected, seconds, latencies };
  } finally {
    server.kill('SIGTERM');
  }
}

function summarize(name: string, r: RunResult) {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  return {
    name,
    eventsPerSecond: r.delivered / r.seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    deliveredShare: r.delivered / r.expected,
  };
}

console.log(`events bench: ${SUBSCRIBERS} WebSocket subscribers over ${USERS} users, ${RATE} mutations/s for ${SECONDS} s (${(RATE * SECONDS * SUBSCRIBERS) / USERS} deliveries expected)`);
const baseline = summarize('bare ws broadcast (baseline)', await baselineRun());
const gatewayResult = await gatewayRun();
const ours = summarize('gateway userEvents over graphql-ws', gatewayResult);
console.log('\n| what | delivered events/s | p50 ms | p99 ms | delivered |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const s of [baseline, ours]) {
  console.log(`| ${s.name} | ${s.eventsPerSecond.toFixed(0)} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${(s.deliveredShare * 100).toFixed(1)}% |`);
}
console.log(`\n- updateUser response time p50: ${mutationP50.toFixed(1)} ms (included in the gateway's latency)`);
console.log(`- event (committed in the mutation) to subscriber: p50 ${eventToSubscriber.p50.toFixed(1)} ms, p99 ${eventToSubscriber.p99.toFixed(1)} ms`);
console.log(`- webhook deliveries during the run: ${gatewayResult.webhooks} at ${gatewayResult.webhookRate.toFixed(1)}/s (one app, every updateUser event; offered ${RATE}/s)`);
console.log(`- webhook backlog drained: ${burstResult.deliveries} deliveries in ${burstResult.seconds.toFixed(2)} s = ${(burstResult.deliveries / burstResult.seconds).toFixed(1)}/s`);
console.log(`- delivered events/s: gateway ÷ baseline = ${(ours.eventsPerSecond / baseline.eventsPerSecond).toFixed(2)}`);
console.log(`- p50 latency: gateway ÷ baseline = ${(ours.p50 / baseline.p50).toFixed(1)}; p99: ${(ours.p99 / baseline.p99).toFixed(1)}`);
process.exit(0);
