/**
 * The OpenTelemetry SDK behind kernel/tracing.ts, loaded only when tracing is
 * configured. Spans are batched and POSTed over OTLP/HTTP (protobuf or JSON).
 *
 * Nothing is registered as the process's global tracer provider or
 * propagator: the gateway's tracer is its own, so another library's
 * instrumentation cannot send spans through it by accident. Only the context
 * manager is global, as it must be: it is what makes a span the parent of
 * whatever runs inside it, across awaits.
 *
 * Prisma's own tracing (@prisma/instrumentation) adds a span per Prisma
 * operation and per SQL statement it sends; its compile and serialize steps
 * are left out (they are small and doubled the span count).
 */
import { context, diag, DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Sampler } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOffSampler, AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import { PrismaInstrumentation } from '@prisma/instrumentation';
import type { IncomingHttpHeaders } from 'node:http';
import type { TracingConfig } from '../config.js';
import type { Logger } from './logger.js';
import type { SpanAttributes, Tracer } from './tracing.js';

function sampler(config: TracingConfig): Sampler {
  const ratio = new TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * Traces start at requests: a span with no parent is kept only when it is a
 * request's. The event relay and the webhook dispatcher poll the database
 * several times a second, and each poll would otherwise be a trace of its own.
 */
function requestsOnly(sampler: Sampler): Sampler {
  return {
    shouldSample(ctx, traceId, name, kind, attributes, links) {
      if (kind !== SpanKind.SERVER && !trace.getSpanContext(ctx)) return { decision: SamplingDecision.NOT_RECORD };
      return sampler.shouldSample(ctx, traceId, name, kind, attributes, links);
    },
    toString: () => `RequestsOnly{${sampler.toString()}}`,
  };
}

/** Drops undefined values (OpenTelemetry refuses them). */
function attributesOf(attributes: SpanAttributes): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value;
  return out;
}

const headerGetter = {
  keys: (carrier: IncomingHttpHeaders) => Object.keys(carrier),
  get: (carrier: IncomingHttpHeaders, key: string) => carrier[key],
};

export function createTracer(config: TracingConfig, logger: Logger): Tracer {
  // Export failures (a collector down) reach the log as warnings; the spans are dropped, requests go on.
  diag.setLogger(
    {
      error: (message) => logger.warn({ otel: message }, 'tracing: could not export spans'),
      warn: (message) => logger.warn({ otel: message }, 'tracing'),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  // Returns false when a context manager is already there (another gateway in this process): that one serves.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

  const Exporter = config.protocol === 'http/json' ? JsonExporter : ProtobufExporter;
  const provider = new TracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName })),
    sampler: requestsOnly(sampler(config)),
    spanProcessors: [new BatchSpanProcessor({ exporter: new Exporter({ url: config.url, headers: config.headers }) })],
  });
  const tracer = provider.getTracer('portcullis');
  const propagator = new W3CTraceContextPropagator();

  const prisma = new PrismaInstrumentation({ enabled: false, ignoreSpanTypes: ['prisma:client:serialize', 'prisma:client:compile'] });
  prisma.setTracerProvider(provider);
  prisma.enable();

  const failed = (span: ReturnType<typeof tracer.startSpan>, error: unknown) => {
    // The error's class only: messages of driver errors can quote the values of a statement.
    const type = error instanceof Error ? error.name : typeof error;
    span.setAttribute('error.type', type);
    span.setStatus({ code: SpanStatusCode.ERROR, message: type });
  };

  return {
    span(name, attributes, fn, kind) {
      return tracer.startActiveSpan(name, { kind: kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL, attributes: attributesOf(attributes) }, async (span) => {
        try {
          return await fn();
        } catch (error) {
          failed(span, error);
          throw error;
        } finally {
          span.end();
        }
      });
    },

    request(name, headers, attributes, handle) {
      const parent = propagator.extract(ROOT_CONTEXT, headers, headerGetter);
      const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes: attributesOf(attributes) }, parent);
      return context.with(trace.setSpan(parent, span), () =>
        handle({
          traceId: span.spanContext().traceId,
          updateName: (next) => span.updateName(next),
          setAttributes: (more) => span.setAttributes(attributesOf(more)),
          end(status) {
            span.setAttribute('http.response.status_code', status);
            if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
            span.end();
          },
        }),
      );
    },

    traceId() {
      const span = trace.getActiveSpan();
      return span?.spanContext().traceId;
    },

    async shutdown(timeoutMs) {
      prisma.disable();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        provider.shutdown().catch((error: Error) => logger.warn({ err: error }, 'tracing: the last spans were not exported')),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
    },
  };
}
