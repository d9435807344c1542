/**
 * `npm run bench -- hot-paths`: the hot request paths, search at 1,000,000
 * users and subscription fan-out, on SQLite and then PostgreSQL, each row
 * against a baseline measured in the same run (alternating rounds). Every
 * group starts its own gateway on 127.0.0.1 with a random port and bounds
 * every load in time.
 *
 * Settings (environment): BENCH_GROUPS (requests,search,fanout),
 * BENCH_PROVIDERS (sqlite,postgresql), BENCH_DURATION_S (6: seconds per side
 * and row, in BENCH_ROUNDS (3) rounds after BENCH_WARMUP_S (2)),
 * BENCH_CONNECTIONS (10).
 */
import { loadavg } from 'node:os';
import { gatewayRunAs, machine, writeReadmeSection, type Provider } from './lib.js';
import type { HotGroup, HotRow } from './hot-paths/types.js';

const GROUPS = (process.env.BENCH_GROUPS ?? 'requests,search,fanout').split(',');
const PROVIDERS = (process.env.BENCH_PROVIDERS ?? 'sqlite,postgresql').split(',') as Provider[];
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

async function group(name: string): Promise<HotGroup> {
  const module = (await import(`./hot-paths/${name}.ts`)) as { run: HotGroup };
  return module.run;
}

const cpu = (r: HotRow['gateway']) => (r.cpu ? `${r.cpu.all.toFixed(2)} (${r.cpu.main.toFixed(2)})` : '–');

function table(rows: HotRow[]): string {
  const lines = [
    '| database | operation | side | req/s | p50 ms | p99 ms | CPU ms/req (main thread) | ratio | target | met |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const r of rows) {
    const ratio = r.ratio === undefined ? '–' : r.ratio.toFixed(2);
    const side = (name: string, row: HotRow['gateway']) => `${row.rps.toFixed(1)} | ${row.p50} | ${row.p99} | ${cpu(row)}`;
    lines.push(`| ${r.provider} | ${r.operation} | ${r.gateway.name} | ${side(r.gateway.name, r.gateway)} | ${ratio} | ${r.target} | ${r.reference ? '–' : r.met ? 'yes' : '**no**'} |`);
    if (r.baseline) lines.push(`| | | ${r.baseline.name} | ${side(r.baseline.name, r.baseline)} | | | |`);
  }
  const notes = rows.flatMap((r) => (r.notes ?? []).map((n) => `- ${r.provider}, ${r.operation}: ${n}`));
  return [...lines, '', ...notes].join('\n');
}

async function main() {
  const started = Date.now();
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' / ');
  const loadBefore = load();
  console.log(`hot-paths bench: ${GROUPS.join(', ')} on ${PROVIDERS.join(', ')}; ${DURATION_S} s per side in ${ROUNDS} rounds after ${WARMUP_S} s, ${CONNECTIONS} connections`);
  const rows: HotRow[] = [];
  for (const provider of PROVIDERS) {
    for (const name of GROUPS) {
      const run = await group(name);
      const got = await run({ provider, durationS: DURATION_S, rounds: ROUNDS, warmupS: WARMUP_S, connections: CONNECTIONS, log: (l) => console.log(`${provider} ${name}: ${l}`) });
      rows.push(...got);
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  const text = table(rows);
  const loads = `load average (1 / 5 / 15 min) ${loadBefore} at the start, ${load()} at the end`;
  console.log(`\n${text}\n\n${loads}; ${seconds} s in all`);
  if (GROUPS.length < 3 || PROVIDERS.length < 2) return; // a partial run does not replace the table
  writeReadmeSection(
    'hot-paths',
    [
      '## hot-paths',
      '',
      '`npm run bench -- hot-paths` (bench/hot-paths.ts and bench/hot-paths/). Each group starts its own gateway as a child process',
      `on 127.0.0.1 (with ${gatewayRunAs()}); each row runs ${DURATION_S} s per side in ${ROUNDS} rounds alternating with its baseline, after ${WARMUP_S} s of unmeasured warm-up,`,
      `with ${CONNECTIONS} connections. Measured on ${machine()}, ${new Date().toISOString().slice(0, 10)}; ${loads}; ${seconds} s in all.`,
      'The row "the GraphQL floor" is a reference, not a target: `{ __typename }` with the same API key against the bare',
      'user(id) handler, the most any operation through yoga, validation and execution reaches against a bare handler here.',
      '',
      text,
    ].join('\n'),
  );
}

await main();
