/**
 * GraphQL operations in the metrics, and the GET /metrics endpoint.
 *
 * Our own small yoga plugin rather than @graphql-yoga/plugin-prometheus: that
 * one labels by the operation name the client wrote (anyone can send a new
 * one with every request, an email address included) and times phases, while
 * operators here want the result of each operation, including which union
 * error it answered, which only a wrapper of the root fields can see.
 *
 * Labels, all from closed sets:
 * - `type`: query, mutation, subscription (unknown when the document has no
 *   runnable operation);
 * - `operation`: the root field the operation calls (`login`,
 *   `verifyPassword`), taken from the schema, never the client's operation
 *   name; `(multiple)` for several root fields, `(unknown)` for a field the
 *   schema does not have (an invalid document), `(invalid)` for a request
 *   that could not be read or parsed, or whose operationName names no
 *   operation in it;
 * - `result`: `success`, the union error type a mutation answered
 *   (`IncorrectPasswordError`), or the top-level error's code (`UNAUTHENTICATED`,
 *   `RATE_LIMITED`, `GRAPHQL_VALIDATION_FAILED`, `INTERNAL_SERVER_ERROR`).
 *
 * Timing: over HTTP and SSE from the parsed request to the processed result
 * (for a subscription, until its stream is open); over WebSocket from the
 * parse to the end of execution. A WebSocket operation refused before it runs
 * (an invalid document, too many on one socket) is not counted: graphql-ws
 * answers it without yoga.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listen } from './listen.js';
import { performance } from 'node:perf_hooks';
import { getNullableType, getOperationAST, isUnionType, Kind, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { errorTypeMap } from '@pothos/plugin-errors';
import type { Logger } from '../kernel/logger.js';
import type { Metrics } from '../kernel/metrics.js';
import { closing } from '../kernel/async-iterators.js';

const INVALID = '(invalid)';
const UNKNOWN = '(unknown)';
const MULTIPLE = '(multiple)';
/** Most distinct error codes labelled; more (none are expected) share OTHER_ERROR. */
const MAX_CODES = 50;

interface OperationState {
  start: number;
  /** HTTP and SSE requests are recorded when yoga processes their result; WebSocket ones when they ran. */
  http: boolean;
  type: string;
  operation: string;
  /** The union error type a root field answered, if any. */
  unionError?: string;
  recorded: boolean;
}

/**
 * One state per operation, keyed by its Request: yoga hands the same object
 * to its own hooks and (as context.request) to envelop's and the resolvers;
 * our WebSocket path makes one Request per operation.
 */
const states = new WeakMap<object, OperationState>();

type WithRequest = { request?: Request };

function stateOf(request: object, http = false): OperationState {
  let state = states.get(request);
  if (!state) states.set(request, (state = { start: performance.now(), http, type: 'unknown', operation: INVALID, recorded: false }));
  return state;
}

/** The root fields of each operation type, as the schema has them. */
function rootFieldsOf(schema: GraphQLSchema) {
  const names = (type: { getFields(): Record<string, unknown> } | null | undefined) => new Set(Object.keys(type?.getFields() ?? {}));
  const query = names(schema.getQueryType());
  query.add('__schema').add('__type');
  return { query, mutation: names(schema.getMutationType()), subscription: names(schema.getSubscriptionType()) };
}

/** The type and operation labels of a document: never a name the schema does not have. */
function labelsOf(known: ReturnType<typeof rootFieldsOf>, document: DocumentNode, operationName?: string | null) {
  const op = getOperationAST(document, operationName ?? undefined);
  if (!op) return { type: 'unknown', operation: UNKNOWN };
  const fields = new Set<string>();
  for (const selection of op.selectionSet.selections) {
    // Fragments at the root are rare; not worth resolving for a label.
    if (selection.kind !== Kind.FIELD) return { type: op.operation, operation: UNKNOWN };
    if (selection.name.value !== '__typename') fields.add(selection.name.value);
  }
  if (fields.size === 0) return { type: op.operation, operation: '__typename' };
  if (fields.size > 1) return { type: op.operation, operation: MULTIPLE };
  const [field] = fields;
  return { type: op.operation, operation: known[op.operation].has(field) ? field : UNKNOWN };
}

const wrapped = new WeakSet<object>();
const isPromiseLike = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | null)?.then === 'function';

/**
 * Notes which union error a query or mutation root field answered. The
 * errors plugin turns a thrown expected error into the field's value (a proxy
 * it remembers in its errorTypeMap, with the error's class), so the value is
 * seen here, after it; the union member of that class names the result.
 * (isTypeOf must not be asked: it unwraps the proxy before graphql-js has
 * taken the value, which then throws it.) The schema is built once per
 * process and may serve several gateways (tests): its fields are wrapped
 * once, and the note goes to the operation's state, whichever gateway runs
 * it. (The same in-place wrapping as @envelop/on-resolve, limited to the root
 * fields.)
 */
function noteUnionErrors(schema: GraphQLSchema) {
  for (const root of [schema.getQueryType(), schema.getMutationType()]) {
    for (const field of Object.values(root?.getFields() ?? {})) {
      const union = getNullableType(field.type);
      const resolve = field.resolve;
      if (!isUnionType(union) || !resolve || wrapped.has(field)) continue;
      wrapped.add(field);
      // The members that are errors: those implementing the Error interface, named after their class.
      const errors = new Set(union.getTypes().filter((t) => t.getInterfaces().some((i) => i.name === 'Error')).map((t) => t.name));
      if (errors.size === 0) continue;
      const note = (value: unknown, context: WithRequest) => {
        const errorClass = typeof value === 'object' && value !== null ? errorTypeMap.get(value) : undefined;
        const state = errorClass && context?.request ? states.get(context.request) : undefined;
        if (state && !state.unionError) state.unionError = errors.has(errorClass!.name) ? errorClass!.name : 'Error';
        return value;
      };
      field.resolve = (source, args, context: WithRequest, info) => {
        const value = resolve(source, args, context, info);
        return isPromiseLike(value) ? value.then((v) => note(v, context)) : note(value, context);
      };
    }
  }
}

const isStream = (value: unknown): value is AsyncIterable<unknown> => typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

/** The yoga plugin: operations by type, operation and result (a counter and a latency histogram), and live subscriptions. */
export function useMetrics(metrics: Metrics, schema: GraphQLSchema): Plugin {
  const labels = ['type', 'operation', 'result'] as const;
  const operations = metrics.counter('portcullis_graphql_operations_total', 'GraphQL operations by type, root field and result (success, the union error type, or the error code).', labels);
  const durations = metrics.histogram('portcullis_graphql_operation_duration_seconds', 'Time to answer a GraphQL operation (a subscription: to open its stream), by type, root field and result.', labels);
  const live = metrics.gauge('portcullis_subscriptions_live', 'Subscriptions streaming now, by transport (websocket, sse, http for other streamed responses).', ['transport']);
  const known = rootFieldsOf(schema);
  noteUnionErrors(schema);
  const codes = new Set<string>();

  function codeLabel(code: unknown): string {
    if (typeof code !== 'string' || !/^[A-Z][A-Z0-9_]{0,63}$/.test(code)) return 'ERROR';
    if (!codes.has(code) && codes.size >= MAX_CODES) return 'OTHER_ERROR';
    codes.add(code);
    return code;
  }

  function resultOf(state: OperationState | undefined, result: unknown): string {
    if (isStream(result)) return 'success';
    const errors = (result as ExecutionResult | undefined)?.errors;
    if (errors?.length) return codeLabel(errors[0].extensions?.code);
    return state?.unionError ?? 'success';
  }

  function record(state: OperationState, result: string) {
    if (state.recorded) return;
    state.recorded = true;
    const values = { type: state.type, operation: state.operation, result };
    operations.inc(values);
    durations.observe(values, (performance.now() - state.start) / 1000);
  }

  function label(state: OperationState, document: DocumentNode, operationName?: string | null) {
    if (state.operation !== INVALID) return;
    Object.assign(state, labelsOf(known, document, operationName));
  }

  const transportOf = (context: WithRequest & { transport?: string }) => {
    if (context.transport === 'ws') return 'websocket';
    return context.request?.headers.get('accept')?.includes('text/event-stream') ? 'sse' : 'http';
  };

  return {
    onParams: ({ request }) => void stateOf(request, true),
    // The WebSocket path has no params hook: its operations start here.
    onParse: ({ context }) => void ((context as WithRequest).request && stateOf((context as WithRequest).request!)),
    onValidate: ({ context, params }) => {
      const { request, params: graphqlParams } = context as WithRequest & { params?: { operationName?: string | null } };
      if (request) label(stateOf(request), params.documentAST, graphqlParams?.operationName);
    },
    onExecute: ({ args }) => {
      const context = args.contextValue as WithRequest;
      if (!context.request) return;
      const state = stateOf(context.request);
      label(state, args.document, args.operationName);
      return {
        onExecuteDone: ({ result }) => {
          if (!state.http) record(state, resultOf(state, result));
        },
      };
    },
    onSubscribe: ({ args }) => {
      const context = args.contextValue as WithRequest & { transport?: string };
      if (!context.request) return;
      const state = stateOf(context.request);
      label(state, args.document, args.operationName);
      return {
        onSubscribeResult: ({ result, setResult }) => {
          if (!state.http) record(state, resultOf(state, result));
          if (!isStream(result)) return;
          const transport = { transport: transportOf(context) };
          live.inc(transport);
          setResult(closing(result, { onClose: () => live.dec(transport) }) as never);
        },
      };
    },
    onResultProcess: ({ request, result }) => {
      const state = states.get(request);
      if (state) return record(state, resultOf(state, result));
      // Refused before its parameters could be read (a malformed body).
      if (!Array.isArray(result)) operations.inc({ type: 'unknown', operation: INVALID, result: resultOf(undefined, result) });
    },
  };
}

/** Answers GET /metrics with the Prometheus text format; no authentication (keep it off public networks: PORTCULLIS_METRICS_PORT). */
export function metricsHandler(metrics: Metrics, logger: Logger) {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      res.end();
      return;
    }
    metrics.render().then(
      (body) => {
        res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error) => {
        logger.error({ err: error }, 'could not render the metrics');
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('metrics unavailable\n');
      },
    );
  };
}

/** A listener of its own for /metrics (PORTCULLIS_METRICS_PORT): nothing else is served there. */
export function createMetricsServer(serve: (req: IncomingMessage, res: ServerResponse) => void) {
  const server: Server = createServer((req, res) => {
    if (req.url?.split('?')[0] === '/metrics') return serve(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  return {
    listen: (port: number, host: string): Promise<AddressInfo> => listen(server, port, host),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
