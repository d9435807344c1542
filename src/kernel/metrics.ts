/**
 * Prometheus metrics, without a global: createApp makes one registry per
 * gateway and hands it to the parts that count something (services, relay,
 * workers, the yoga plugin), which declare their own families next to the
 * code they measure. Two kinds of instruments:
 *
 * - counters and histograms, bumped on the path they measure: prom-client's
 *   inc/observe are a map lookup and an addition, cheap enough for every request;
 * - gauges read when scraped (`gaugeFrom`): queue lengths, pool sizes and lags
 *   cost nothing between scrapes. A read that fails or hangs leaves its family
 *   empty for that scrape and counts in portcullis_metrics_read_failures_total;
 *   the rest of the scrape still answers.
 *
 * Labels are chosen by the code that declares a family, from closed sets
 * (error codes, method names, schema fields): never a user id, an address or
 * anything a caller typed.
 */
import { collectDefaultMetrics, Counter as PromCounter, Gauge as PromGauge, Histogram as PromHistogram, Registry } from 'prom-client';
import { PortcullisError } from './errors.js';

export type Labels<L extends string> = { [K in L]: string };

export interface Counter<L extends string = never> {
  inc(labels: Labels<L>, by?: number): void;
}

export interface Histogram<L extends string = never> {
  /** `value` in the family's unit (seconds for durations). */
  observe(labels: Labels<L>, value: number): void;
}

export interface Gauge<L extends string = never> {
  inc(labels: Labels<L>): void;
  dec(labels: Labels<L>): void;
}

export interface Sample<L extends string = never> {
  labels: Labels<L>;
  value: number;
}

export interface Metrics {
  counter<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  histogram<L extends string = never>(name: string, help: string, labelNames?: readonly L[], buckets?: number[]): Histogram<L>;
  /** A gauge moved by the code (live streams). */
  gauge<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): Gauge<L>;
  /** A gauge read at scrape time; `read` returns its samples (none: the family is left empty). */
  gaugeFrom<L extends string = never>(name: string, help: string, labelNames: readonly L[], read: () => Sample<L>[] | Promise<Sample<L>[]>): void;
  /** The Prometheus text exposition of this gateway's families and the process's. */
  render(): Promise<string>;
  contentType: string;
}

/** The outcome label of a failure: an expected one's code in lower case (a closed set), `error` for anything else. */
export function failureLabel(error: unknown): string {
  return error instanceof PortcullisError ? error.code.toLowerCase() : 'error';
}

/** How long one scrape-time read may take before it is given up (a database that stopped answering). */
const READ_TIMEOUT_MS = 5_000;

/**
 * Process metrics (CPU, memory, event loop lag, GC, handles) describe the
 * process, not a gateway, and their collectors (a GC observer, an event loop
 * monitor) cannot be stopped: one set per process, started at the first
 * scrape, shared by every gateway the process runs (tests run many).
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const readFailures = new PromCounter({
    name: 'portcullis_metrics_read_failures_total',
    help: 'Scrape-time reads that failed or took longer than 5 s (their family was left out of that scrape), by family.',
    labelNames: ['metric'],
    registers: [registry],
  });

  async function within<T>(work: () => T | Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        Promise.resolve().then(work),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('metric read timed out')), READ_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) {
      const counter = new PromCounter({ name, help, labelNames: [...labelNames], registers: [registry] });
      return { inc: (labels: Labels<L>, by = 1) => counter.inc(labels as never, by) };
    },
    histogram<L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], buckets?: number[]) {
      const histogram = new PromHistogram({ name, help, labelNames: [...labelNames], ...(buckets ? { buckets } : {}), registers: [registry] });
      return { observe: (labels: Labels<L>, value: number) => histogram.observe(labels as never, value) };
    },
    gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) {
      const gauge = new PromGauge({ name, help, labelNames: [...labelNames], registers: [registry] });
      return { inc: (labels: Labels<L>) => gauge.inc(labels as never), dec: (labels: Labels<L>) => gauge.dec(labels as never) };
    },
    gaugeFrom<L extends string = never>(name: string, help: string, labelNames: readonly L[], read: () => Sample<L>[] | Promise<Sample<L>[]>) {
      new PromGauge({
        name,
        help,
        labelNames: [...labelNames],
        registers: [registry],
        async collect() {
          this.reset();
          try {
            for (const { labels, value } of await within(read)) this.set(labels as never, value);
          } catch {
            readFailures.inc({ metric: name });
          }
        },
      });
    },
    async render() {
      return (await registry.metrics()) + (await processMetrics().metrics());
    },
    contentType: registry.contentType,
  };
}
