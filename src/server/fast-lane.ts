/**
 * The common request, answered without the fetch-API adapter: a POST of a
 * JSON body to the GraphQL endpoint, with a length, from a caller that is not
 * a browser on another origin, asking for JSON. Most of what an operation
 * costs on the main thread was in that adapter (a Request with its header
 * object, body stream and AbortController per request, a Response piped back
 * through streams), not in GraphQL.
 *
 * Everything that decides the answer still runs in yoga: its params hooks,
 * parsing and validation (with their caches and the query limits), the
 * context, every execution plugin (caller check, rate limit, metrics, error
 * masking and logging) and its result-processing hooks (content negotiation,
 * the HTTP status of errors). Only reading the body and writing the answer are
 * done here. Anything unusual (a body that is not a JSON object of GraphQL
 * parameters, a batch, an answer that is not one JSON document) goes through
 * yoga's own request handling with the body already read, so its answers and
 * errors stay exactly its own.
 */
import { AsyncResource } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExecutionResult } from 'graphql';
import type { RequestRecord } from './observe.js';
import type { YogaServer } from './yoga.js';

/** Larger bodies stream through yoga, which bounds them. */
const MAX_BODY_BYTES = 1_000_000;
const JSON_TYPE = /^application\/json\s*(;\s*charset=utf-8\s*)?$/i;
const PARAM_KEYS = new Set(['query', 'variables', 'operationName', 'extensions']);

type ResultProcessor = (result: ExecutionResult, fetchAPI: unknown, mediaType: string) => Response | Promise<Response>;
type ResultProcessHook = (payload: {
  request: Request;
  result: unknown;
  acceptableMediaTypes: string[];
  setResult: (result: unknown) => void;
  resultProcessor?: ResultProcessor;
  setResultProcessor: (processor: ResultProcessor, mediaType: string) => void;
  serverContext: unknown;
}) => unknown;

/** What yoga's server keeps and its adapter does not type: run-time fields of the same object. */
interface YogaInternals {
  getResultForParams(payload: { params: Params; request: Request }, context: Record<string, unknown>): Promise<unknown> | unknown;
  handle(request: Request, context: Record<string, unknown>): Promise<Response> | Response;
  onResultProcessHooks: ResultProcessHook[];
  fetchAPI: { Request: typeof Request };
}

interface Params {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
  extensions?: Record<string, unknown> | null;
}

const isAsyncIterable = (v: unknown): v is AsyncIterable<unknown> => typeof v === 'object' && v !== null && Symbol.asyncIterator in v;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optional = (v: unknown, check: (v: unknown) => boolean) => v === undefined || v === null || check(v);

/** A request's headers as one string per name (repeated ones joined as the fetch API joins them). */
export function flatHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name in req.headers) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** A plain single operation, as yoga's parameter checks would pass it; anything else is left to yoga. */
function plainParams(body: unknown): body is Params {
  if (!isObject(body) || typeof body.query !== 'string') return false;
  for (const key in body) if (!PARAM_KEYS.has(key)) return false;
  return optional(body.variables, isObject) && optional(body.operationName, (v) => typeof v === 'string') && optional(body.extensions, isObject);
}

/**
 * The server context becomes the operation's context (yoga assigns to it),
 * and something keeps each context alive past the young generation's
 * collections (Pothos keys its per-request caches by it in WeakMaps): with it,
 * everything it references moved to the old generation, several kilobytes a
 * `user(id)` and work for the full collections. Once the answer is written
 * nothing reads the node request and response, the fetch Request or the
 * parameters, so the context lets go of them then: half as much is moved
 * (`--trace-gc`), and collection's share of the main thread went from about
 * 10 % to 8 % in CPU profiles.
 */
function letGo(context: Record<string, unknown>) {
  context.req = context.res = context.request = context.params = undefined;
}

export function createFastLane(deps: { yoga: YogaServer; graphqlEndpoint: string; varyOnOrigin: boolean }) {
  const yoga = deps.yoga as unknown as YogaInternals;
  const { Request: RequestCtor } = yoga.fetchAPI;
  /** Answers written here without a Response object (for tests: proof that the lane was taken). */
  let answered = 0;

  /** True when this request can take the lane: decided from its head alone, before its body is read. */
  function accepts(req: IncomingMessage, path: string | undefined): boolean {
    if (req.method !== 'POST' || path !== deps.graphqlEndpoint || req.url !== deps.graphqlEndpoint) return false;
    const h = req.headers;
    // A browser on another origin needs CORS answers: yoga's.
    if (h.origin !== undefined) return false;
    // Streamed answers (SSE, multipart) stay with yoga, which streams them.
    if (h.accept !== undefined && /event-stream|multipart/i.test(h.accept)) return false;
    const length = h['content-length'];
    if (length === undefined || h['transfer-encoding'] !== undefined || !/^\d{1,7}$/.test(length) || Number(length) > MAX_BODY_BYTES) return false;
    return h['content-type'] !== undefined && JSON_TYPE.test(h['content-type']);
  }

  function requestOf(req: IncomingMessage, body?: Buffer): Request {
    return new RequestCtor(`http://${req.headers.host ?? 'localhost'}${req.url}`, { method: 'POST', headers: flatHeaders(req), body: body as unknown as BodyInit | undefined });
  }

  async function send(res: ServerResponse, response: Response) {
    const headers: Record<string, string | string[]> = {};
    response.headers.forEach((value, name) => {
      headers[name] = name === 'set-cookie' ? [...((headers[name] as string[] | undefined) ?? []), value] : value;
    });
    if (deps.varyOnOrigin) headers.vary = headers.vary ? `${headers.vary}, Origin` : 'Origin';
    const body = Buffer.from(await response.arrayBuffer());
    res.writeHead(response.status, response.statusText, headers);
    res.end(body);
  }

  async function answer(req: IncomingMessage, res: ServerResponse, serverContext: Record<string, unknown>, raw: Buffer) {
    let params: unknown;
    try {
      params = JSON.parse(raw.toString('utf8'));
    } catch {
      params = undefined;
    }
    if (!plainParams(params)) return send(res, await yoga.handle(requestOf(req, raw), serverContext));

    const request = requestOf(req);
    let result = await yoga.getResultForParams({ params, request }, serverContext);
    let processor: ResultProcessor | undefined;
    let mediaType = '*/*';
    const acceptableMediaTypes: string[] = [];
    for (const hook of yoga.onResultProcessHooks) {
      await hook({
        request,
        result,
        acceptableMediaTypes,
        setResult: (next) => (result = next),
        resultProcessor: processor,
        setResultProcessor: (next, type) => {
          processor = next;
          mediaType = type;
        },
        serverContext,
      });
    }
    // A subscription asked for as one JSON answer cannot be given one: end its stream, yoga answers 406 below.
    if (isAsyncIterable(result)) void result[Symbol.asyncIterator]().return?.();
    const single = result as ExecutionResult;
    const plain = processor && (mediaType === 'application/json' || mediaType === 'application/graphql-response+json') && isObject(result) && !single.errors && !single.extensions;
    if (!plain) {
      if (!processor) {
        res.writeHead(406, 'Not Acceptable', { accept: acceptableMediaTypes.join('; charset=utf-8, ') });
        return void res.end();
      }
      return send(res, await processor(single, yoga.fetchAPI, mediaType));
    }
    const body = JSON.stringify(result);
    const headers: Record<string, string | number> = { 'content-type': `${mediaType}; charset=utf-8`, 'content-length': Buffer.byteLength(body) };
    if (deps.varyOnOrigin) headers.vary = 'Origin';
    answered++;
    res.writeHead(200, headers);
    res.end(body);
  }

  /** Reads the body and answers; errors that escape yoga become a 500 without detail, logged by the caller. */
  function handle(req: IncomingMessage, res: ServerResponse, record: RequestRecord, onError: (error: unknown) => void) {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    const onEnd = () => {
      const serverContext: Record<string, unknown> = { req, res, remoteAddress: req.socket.remoteAddress, record };
      answer(req, res, serverContext, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))
        .catch((error) => {
          onError(error);
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
          res.end(res.writableEnded ? undefined : JSON.stringify({ errors: [{ message: 'Unexpected error.' }] }));
        })
        .finally(() => letGo(serverContext));
    };
    // 'end' fires from the socket's async context: with tracing on, the request's span must stay current (binding costs, so only then).
    req.on('end', record.span ? AsyncResource.bind(onEnd) : onEnd);
  }

  return { accepts, handle, answered: () => answered };
}
