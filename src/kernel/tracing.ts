/**
 * Traces, when an OTLP endpoint is configured. Off, nothing of OpenTelemetry
 * is loaded (idle memory is a tracked target): this file imports none of it,
 * and the SDK comes in through a dynamic import of tracing-sdk.ts at start.
 *
 * Code marks a span with `inSpan(name, attributes, fn)`: with tracing off that
 * is a plain call of fn. Spans nest by the active context (AsyncLocalStorage),
 * so a service needs no tracer passed in. Like OpenTelemetry's own API, the
 * tracer is one per process: the last gateway started in a process traces.
 *
 * Attributes name what happened, never a value a caller sent: no variables,
 * identifiers, codes or tokens, and SQL only as its text with placeholders.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { TracingConfig } from '../config.js';
import type { Logger } from './logger.js';

export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/** The span of one incoming HTTP request. */
export interface RequestSpan {
  readonly traceId: string;
  updateName(name: string): void;
  setAttributes(attributes: SpanAttributes): void;
  /** Ends the span with the response's status (5xx marks it failed). */
  end(status: number): void;
}

export interface Tracer {
  /** Runs fn in a span, a child of the active one; a thrown error marks the span failed. */
  span<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>, kind?: 'internal' | 'client'): Promise<T>;
  /**
   * Runs handle inside a new server span for an HTTP request, which continues
   * the caller's trace when the request carries a W3C traceparent header.
   */
  request<T>(name: string, headers: IncomingHttpHeaders, attributes: SpanAttributes, handle: (span: RequestSpan) => T): T;
  /** The trace id of the active span; undefined outside any. */
  traceId(): string | undefined;
  /** Sends what is buffered and stops; waits at most timeoutMs. */
  shutdown(timeoutMs: number): Promise<void>;
}

let active: Tracer | undefined;

/**
 * Loads the SDK and starts exporting when `config` is set; undefined (and
 * nothing loaded) otherwise.
 */
export async function startTracing(config: TracingConfig | undefined, logger: Logger): Promise<Tracer | undefined> {
  if (!config) return undefined;
  const { createTracer } = await import('./tracing-sdk.js');
  const tracer = createTracer(config, logger);
  active = tracer;
  return tracer;
}

/** Stops `tracer`, and clears it as the process's tracer when it still is. */
export async function stopTracing(tracer: Tracer | undefined, timeoutMs: number): Promise<void> {
  if (!tracer) return;
  if (active === tracer) active = undefined;
  await tracer.shutdown(timeoutMs);
}

/** Runs fn in a span when tracing is on; otherwise just runs it. */
export function inSpan<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>, kind?: 'internal' | 'client'): Promise<T> {
  return active ? active.span(name, attributes, fn, kind) : fn();
}

/** The active trace id, for request metadata and logs; undefined when tracing is off. */
export function currentTraceId(): string | undefined {
  return active?.traceId();
}

/**
 * `service` with each named method run in a span `<prefix>.<method>`: the
 * operations of note (sign-in, credential checks) without editing each one.
 * The methods are looked up when called, so this costs nothing with tracing off
 * beyond one check.
 */
export function tracedMethods<S extends object, K extends keyof S & string>(prefix: string, service: S, methods: readonly K[], attributes: SpanAttributes = {}): S {
  const wrapped = { ...service };
  for (const method of methods) {
    const original = service[method];
    if (typeof original !== 'function') continue;
    (wrapped as Record<string, unknown>)[method] = (...args: unknown[]) =>
      inSpan(`${prefix}.${method}`, attributes, () => (original as (...a: unknown[]) => Promise<unknown>).apply(service, args));
  }
  return wrapped;
}
