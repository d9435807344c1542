/** Requests over real HTTP, and the access-log lines they left in a captured log. */

export interface AccessLine {
  msg: string;
  requestId: string;
  method: string;
  path: string;
  operation?: string;
  operationType?: string;
  caller: string;
  keyId?: string;
  userId?: string;
  ip?: string;
  status: number;
  durationMs: number;
  traceId?: string;
  [field: string]: unknown;
}

/** The access-log lines among captured log lines. */
export function accessLines(lines: readonly string[]): AccessLine[] {
  return lines.map((l) => JSON.parse(l) as AccessLine).filter((l) => l.msg === 'request');
}

/**
 * The line of one request. The line is written when the server closes the
 * response, which can come a moment after the client has read it: this
 * waits for it (generously: the machine is shared).
 */
export async function accessLineOf(lines: readonly string[], requestId: string, timeoutMs = 10_000): Promise<AccessLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = accessLines(lines).filter((l) => l.requestId === requestId);
    if (found.length) {
      if (found.length > 1) throw new Error(`${found.length} access-log lines for request ${requestId}`);
      return found[0];
    }
    if (Date.now() > deadline) throw new Error(`no access-log line for request ${requestId}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface Call {
  status: number;
  requestId: string;
  body: { data?: any; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}

/** POSTs an operation to the gateway at `url` (its /graphql). */
export async function post(url: string, query: string, variables: Record<string, unknown> = {}, options: { token?: string; headers?: Record<string, string>; operationName?: string } = {}): Promise<Call> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers },
    body: JSON.stringify({ query, variables, operationName: options.operationName }),
  });
  return { status: res.status, requestId: res.headers.get('x-request-id') ?? '', body: (await res.json()) as Call['body'] };
}
