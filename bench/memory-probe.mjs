/**
 * Loaded into a measured process by bench/memory.ts with
 * `NODE_OPTIONS=--import <this file>`, so the gateway needs no debug endpoint.
 * Plain JavaScript: a TypeScript loader would itself add to the memory measured.
 *
 * On SIGUSR2 it appends one JSON line to $BENCH_MEMORY_PROBE_FILE:
 * process.memoryUsage(), the used size of each V8 heap space, and the heap in
 * use just after the latest full (mark-compact) collection: what is live, the
 * figure that grows with a leak whatever the collector's rhythm. When the file
 * `$BENCH_MEMORY_PROBE_FILE.snapshot` exists, it names where to write a heap
 * snapshot first (used only with BENCH_HEAP_SNAPSHOTS=1: a snapshot pauses the
 * process and leaves memory behind, so it is never taken in a measured run).
 */
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

const file = process.env.BENCH_MEMORY_PROBE_FILE;
if (file) {
  let afterMajorGc;
  let majorGcs = 0;
  // Delivered shortly after each collection: the heap then is the live set plus the little allocated since.
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      majorGcs++;
      afterMajorGc = v8.getHeapStatistics().used_heap_size;
    }
  }).observe({ entryTypes: ['gc'] });
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
    appendFileSync(file, `${JSON.stringify({ at: Date.now(), rss, heapTotal, heapUsed, external, arrayBuffers, spaces, afterMajorGc, majorGcs, snapshot })}\n`);
  });
}
