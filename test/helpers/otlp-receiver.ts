/**
 * An OTLP/HTTP trace receiver on 127.0.0.1, as a collector's would be: it
 * accepts POST /v1/traces in protobuf or JSON, decodes the spans and keeps
 * them. The protobuf reader knows just the fields of
 * ExportTraceServiceRequest a test looks at (opentelemetry-proto,
 * trace/v1/trace.proto and common/v1/common.proto).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  resource: Record<string, string | number | boolean>;
}

type Field = { no: number; wire: number; value: bigint | Buffer };

/** The fields of one protobuf message, in order (varint, 64-bit, length-delimited, 32-bit). */
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = () => {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = buf[at++];
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < buf.length) {
    const tag = Number(varint());
    const no = tag >> 3;
    const wire = tag & 7;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 1) out.push({ no, wire, value: buf.subarray(at, (at += 8)) });
    else if (wire === 2) {
      const length = Number(varint());
      out.push({ no, wire, value: buf.subarray(at, (at += length)) });
    } else if (wire === 5) out.push({ no, wire, value: buf.subarray(at, (at += 4)) });
    else throw new Error(`protobuf wire type ${wire} is not expected in OTLP`);
  }
  return out;
}

const children = (buf: Buffer, no: number) => fields(buf).filter((f) => f.no === no).map((f) => f.value as Buffer);
const one = (buf: Buffer, no: number) => fields(buf).find((f) => f.no === no)?.value;

/** KeyValue { key = 1; AnyValue value = 2 { string 1, bool 2, int 3, double 4 } } */
function protoAttributes(list: Buffer[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of list) {
    const key = (one(kv, 1) as Buffer).toString('utf8');
    const value = one(kv, 2) as Buffer | undefined;
    const [field] = value ? fields(value) : [];
    if (!field) continue;
    if (field.no === 1) out[key] = (field.value as Buffer).toString('utf8');
    else if (field.no === 2) out[key] = field.value === 1n;
    else if (field.no === 3) out[key] = Number(BigInt.asIntN(64, field.value as bigint));
    else if (field.no === 4) out[key] = (field.value as Buffer).readDoubleLE(0);
  }
  return out;
}

function decodeProtobuf(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of children(body, 1)) {
    const resourceMessage = one(resourceSpans, 1) as Buffer | undefined;
    const resource = resourceMessage ? protoAttributes(children(resourceMessage, 1)) : {};
    for (const scopeSpans of children(resourceSpans, 2)) {
      for (const span of children(scopeSpans, 2)) {
        const hex = (no: number) => ((one(span, no) as Buffer | undefined) ?? Buffer.alloc(0)).toString('hex');
        const status = one(span, 15) as Buffer | undefined;
        spans.push({
          traceId: hex(1),
          spanId: hex(2),
          parentSpanId: hex(4),
          name: (one(span, 5) as Buffer).toString('utf8'),
          kind: Number(one(span, 6) ?? 0n),
          attributes: protoAttributes(children(span, 9)),
          statusCode: status ? Number(one(status, 3) ?? 0n) : 0,
          resource,
        });
      }
    }
  }
  return spans;
}

type JsonValue = { stringValue?: string; boolValue?: boolean; intValue?: number | string; doubleValue?: number };
const jsonAttributes = (list: Array<{ key: string; value: JsonValue }> = []) =>
  Object.fromEntries(list.map(({ key, value }) => [key, value.stringValue ?? value.boolValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.doubleValue!)]));

function decodeJson(body: Buffer): ReceivedSpan[] {
  const request = JSON.parse(body.toString('utf8'));
  return request.resourceSpans.flatMap((rs: any) =>
    rs.scopeSpans.flatMap((ss: any) =>
      ss.spans.map((s: any) => ({
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId ?? '',
        name: s.name,
        kind: s.kind,
        attributes: jsonAttributes(s.attributes),
        statusCode: s.status?.code ?? 0,
        resource: jsonAttributes(rs.resource?.attributes),
      })),
    ),
  );
}

export async function startOtlpReceiver() {
  const spans: ReceivedSpan[] = [];
  const exports: Array<{ path: string; contentType: string; headers: http.IncomingHttpHeaders }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const contentType = req.headers['content-type'] ?? '';
      exports.push({ path: req.url ?? '', contentType, headers: req.headers });
      const body = Buffer.concat(chunks);
      const json = contentType.startsWith('application/json');
      spans.push(...(json ? decodeJson(body) : decodeProtobuf(body)));
      // An empty ExportTraceServiceResponse: full success.
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    /** The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it. */
    url: `http://127.0.0.1:${port}`,
    spans,
    exports,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The chain of parents of `span` within its trace, nearest first. */
export function ancestors(spans: readonly ReceivedSpan[], span: ReceivedSpan): ReceivedSpan[] {
  const chain: ReceivedSpan[] = [];
  let parent = spans.find((s) => s.traceId === span.traceId && s.spanId === span.parentSpanId);
  while (parent && chain.length < 100) {
    chain.push(parent);
    const current: ReceivedSpan = parent;
    parent = spans.find((s) => s.traceId === current.traceId && s.spanId === current.parentSpanId);
  }
  return chain;
}
