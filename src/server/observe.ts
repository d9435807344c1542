/**
 * What the gateway keeps of each HTTP request: an id (echoed in
 * `x-request-id`), a span (tracing on), and one access-log line when the
 * response ends. The line names the operation and the caller, never what was
 * sent: no variables, tokens, codes, passwords, query string or headers.
 *
 * Written here rather than with pino-http: its lines carry every request and
 * response header (Authorization among them) unless each serializer is
 * replaced, and its id, fields and message would all be overridden.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../kernel/logger.js';
import type { RequestSpan, Tracer } from '../kernel/tracing.js';
import type { Context, Viewer } from '../graphql/context.js';

/** A caller's x-request-id is taken only in this shape; otherwise a new one is made. */
export const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** What one request's access-log line and span learn as it runs. */
export interface RequestRecord {
  id: string;
  span?: RequestSpan;
  operation?: { type: string; name: string };
  viewer?: Viewer;
  ip?: string;
}

/**
 * X-Request-Id and X-Forwarded-For are anyone's to write: only a trusted
 * proxy's values are taken (PORTCULLIS_TRUST_PROXY). Otherwise a caller could
 * give its requests another request's id, or a chosen address, in the logs.
 */
export function requestIdOf(header: string | null | undefined, trustProxy: boolean): string {
  return trustProxy && header && REQUEST_ID.test(header) ? header : randomUUID();
}

/** The client's address: the proxy's last X-Forwarded-For entry when trusted, else the connection's. */
export function clientAddress(forwardedFor: string | null | undefined, remoteAddress: string | undefined, trustProxy: boolean): string | undefined {
  const forwarded = trustProxy ? forwardedFor?.split(',').pop()?.trim() : undefined;
  return forwarded || remoteAddress;
}

/** The operation's type and name; an unnamed one is named by its root fields (`login`). */
export function operationOf(document: DocumentNode, operationName?: string | null): { type: string; name: string } | undefined {
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const op = operationName ? ops.find((o) => o.name?.value === operationName) : ops[0];
  if (!op) return undefined;
  const name = op.name?.value ?? op.selectionSet.selections.map((s) => (s.kind === Kind.FIELD ? s.name.value : '…')).join(',');
  // Names are the caller's words: bounded, so a line stays a line.
  return { type: op.operation, name: name.slice(0, 100) };
}

// Probes answer every few seconds: logged, but no trace of their own.
const PROBES = new Set(['/healthz', '/readyz']);

export function createRequestObserver(deps: { logger: Logger; accessLog: boolean; trustProxy: boolean; tracer?: Tracer }) {
  const { logger, accessLog, trustProxy, tracer } = deps;

  function finished(req: IncomingMessage, res: ServerResponse, record: RequestRecord, path: string, started: number) {
    const status = res.writableFinished ? res.statusCode : 499;
    record.span?.end(status);
    if (!accessLog) return;
    const viewer = record.viewer;
    logger.info(
      {
        requestId: record.id,
        method: req.method,
        path,
        operation: record.operation?.name,
        operationType: record.operation?.type,
        caller: viewer?.kind ?? 'anonymous',
        keyId: viewer?.kind === 'api_key' ? viewer.keyId : undefined,
        userId: viewer?.kind === 'user' ? viewer.userId : undefined,
        personalAccessTokenId: viewer?.kind === 'user' ? viewer.personalAccessToken?.id : undefined,
        ip: record.ip,
        status,
        // Closed before the response was complete: the client went away (nginx's 499).
        aborted: res.writableFinished ? undefined : true,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        traceId: record.span?.traceId,
      },
      'request',
    );
  }

  /** Gives the request its id and span, runs `handle` inside the span, and logs the line when the response closes. */
  return function observe(req: IncomingMessage, res: ServerResponse, handle: (record: RequestRecord) => void): void {
    const started = performance.now();
    // The query string is never kept: GET requests carry variables in it.
    const path = (req.url ?? '').split('?')[0].slice(0, 200);
    const record: RequestRecord = {
      id: requestIdOf(req.headers['x-request-id'] as string | undefined, trustProxy),
      ip: clientAddress(req.headers['x-forwarded-for'] as string | undefined, req.socket.remoteAddress, trustProxy),
    };
    res.setHeader('x-request-id', record.id);
    res.once('close', () => finished(req, res, record, path, started));
    if (!tracer || PROBES.has(path)) return handle(record);
    tracer.request(`${req.method} ${path}`, req.headers, { 'http.request.method': req.method, 'url.path': path }, (span) => {
      record.span = span;
      handle(record);
    });
  };
}

type WithRecord = { record?: RequestRecord };

/**
 * Fills the request's record from GraphQL (operation, caller) and names its
 * span after the operation (`mutation login`); requests that come in through
 * yoga.fetch get their record here, and every answer its `x-request-id`.
 */
export function useRequestRecord(trustProxy: boolean): Plugin<Context & WithRecord, WithRecord> {
  const note = (context: Context & WithRecord, document: DocumentNode, operationName?: string | null) => {
    const record = context.record;
    if (!record) return;
    record.viewer = context.viewer;
    record.operation = operationOf(document, operationName);
    if (!record.operation) return;
    record.span?.updateName(`${record.operation.type} ${record.operation.name}`);
    record.span?.setAttributes({ 'graphql.operation.type': record.operation.type, 'graphql.operation.name': record.operation.name });
  };
  return {
    onRequest({ request, serverContext }) {
      serverContext.record ??= { id: requestIdOf(request.headers.get('x-request-id'), trustProxy) };
    },
    onExecute: ({ args }) => note(args.contextValue, args.document, args.operationName),
    onSubscribe: ({ args }) => note(args.contextValue, args.document, args.operationName),
    onResponse({ response, serverContext }) {
      if (serverContext.record) response.headers.set('x-request-id', serverContext.record.id);
    },
  };
}
