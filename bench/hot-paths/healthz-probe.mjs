// `node bench/hot-paths/healthz-probe.mjs <gateway base url> <seconds>`: asks GET /healthz every
// 5 ms on one keep-alive connection of its own for `seconds`, then prints the slowest answer and
// the 99th percentile (ms) as JSON. /healthz costs the gateway nothing, so a slow answer is time the
// gateway's event loop spent elsewhere: the longest block while a load runs. A process of its own,
// so the load generator's event loop does not count.
import { Agent, get } from 'node:http';

const [base, seconds] = [process.argv[2], Number(process.argv[3])];
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const until = performance.now() + seconds * 1000;
const times = [];

function ask() {
  const started = performance.now();
  get(new URL('/healthz', base), { agent }, (res) => {
    res.resume();
    res.on('end', () => {
      times.push(performance.now() - started);
      if (performance.now() < until) setTimeout(ask, 5);
      else done();
    });
  }).on('error', (error) => {
    console.error(String(error));
    process.exit(1);
  });
}

function done() {
  agent.destroy();
  const sorted = times.sort((a, b) => a - b);
  const worst = sorted[sorted.length - 1] ?? 0;
  const p99 = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))] ?? 0;
  console.log(JSON.stringify({ worst: Number(worst.toFixed(1)), p99: Number(p99.toFixed(1)), count: sorted.length }));
}

ask();
