/**
 * The HTTP part of a webhook delivery, as one small swappable function: the
 * dispatcher decides what to send and records the outcome; tests replace this
 * to fail on demand. The default connects to the address the SSRF check
 * approved (the URL's host still goes in the Host header and TLS SNI).
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';

export interface WebhookRequest {
  url: URL;
  /** The checked address to connect to. */
  address: string;
  family: 4 | 6;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Aborted when the gateway shuts down. */
  signal?: AbortSignal;
}

export interface WebhookResponse {
  status: number;
}

export type WebhookSender = (request: WebhookRequest) => Promise<WebhookResponse>;

/** Response bodies are not kept; reading at most this much lets the connection be reused. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export const httpWebhookSender: WebhookSender = (request) =>
  new Promise((resolve, reject) => {
    const pinned: LookupFunction = (_host, options, callback) => {
      if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: request.address, family: request.family }]);
      else callback(null, request.address, request.family);
    };
    const client = request.url.protocol === 'https:' ? https : http;
    const req = client.request(
      request.url,
      {
        method: 'POST',
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)), 'user-agent': 'Portcullis-Webhooks/1' },
        lookup: pinned,
        timeout: request.timeoutMs,
        signal: request.signal,
      },
      (res) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_RESPONSE_BYTES) res.destroy();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('close', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    // The whole request, not just idle time, is bounded.
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${request.timeoutMs} ms`)), request.timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`timed out after ${request.timeoutMs} ms`)));
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.on('close', () => clearTimeout(timer));
    req.end(request.body);
  });
