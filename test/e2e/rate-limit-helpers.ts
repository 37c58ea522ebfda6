/**
 * Shared by the rate-limit e2e specs: HTTP requests from a chosen loopback
 * address (the whole 127.0.0.0/8 is local on Linux), so one test process can
 * play many clients; waiting out a window edge; a TCP proxy to cut Redis.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, IncomingHttpHeaders } from 'node:http';
import { RATE_LIMIT_WINDOW_MS } from '../../src/rate-limit/rate-limit-decision';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed JSON when the body is JSON (any shape, as supertest's `body`), else the text. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface SendOptions {
  method?: string;
  /** Source address of the connection, e.g. `127.9.0.3`; the server sees it as `req.ip`. */
  from: string;
  headers?: Record<string, string>;
  body?: unknown;
}

export function send(baseUrl: string, path: string, opts: SendOptions): Promise<Reply> {
  const url = new URL(path, baseUrl);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: opts.method ?? 'GET',
        localAddress: opts.from,
        agent: false,
        headers: {
          accept: 'application/json, text/event-stream',
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A random loopback address outside 127.0.0.0/16, so no other test (or earlier run on a shared Redis) counts under it. */
export function freshIp(): string {
  const [a, b, c] = randomBytes(3);
  return `127.${(a % 254) + 1}.${b}.${(c % 254) + 1}`;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Limits count in one-minute windows aligned to the clock (the app runs in
 * this process: same clock). A burst that must land in one window starts
 * only with at least `marginMs` of the window left.
 */
export async function awayFromWindowEdge(marginMs = 10_000): Promise<void> {
  const left = RATE_LIMIT_WINDOW_MS - (Date.now() % RATE_LIMIT_WINDOW_MS);
  if (left < marginMs) await sleep(left + 50);
}

/** Status codes in the order of the replies. */
export const statuses = (replies: Reply[]) => replies.map((r) => r.status);
export const count = (replies: Reply[], status: number) => replies.filter((r) => r.status === status).length;
