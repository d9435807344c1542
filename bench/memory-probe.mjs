/**
 * Loaded into a measured process by bench/memory.ts with
 * `NODE_OPTIONS=--import <this file>`, so the gateway needs no debug endpoint.
 * Plain JavaScript: a TypeScript loader would itself add to the memory measured.
 *
 * On SIGUSR2 it appends one JSON line to $BENCH_MEMORY_PROBE_FILE:
 * process.memoryUsage() and the used size of each V8 heap space. When the file
 * `$BENCH_MEMORY_PROBE_FILE.snapshot` exists, it names where to write a heap
 * snapshot first (used only with BENCH_HEAP_SNAPSHOTS=1: a snapshot pauses the
 * process and leaves memory behind, so it is never taken in a measured run).
 */
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import v8 from 'node:v8';

const file = process.env.BENCH_MEMORY_PROBE_FILE;
if (file) {
  // Signal listeners do not keep the event loop alive: the process ends as it would without the probe.
  process.on('SIGUSR2', () => {
    const request = `${file}.snapshot`;
    let snapshot;
    if (existsSync(request)) {
      snapshot = readFileSync(request, 'utf8').trim();
      rmSync(request);
      v8.writeHeapSnapshot(snapshot);
    }
    const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
    appendFileSync(file, `${JSON.stringify({ at: Date.now(), rss, heapTotal, heapUsed, external, arrayBuffers, spaces, snapshot })}\n`);
  });
}
