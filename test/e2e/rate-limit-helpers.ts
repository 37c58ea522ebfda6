/**
 * Shared by the rate-limit e2e specs: HTTP requests from a chosen loopback
 * address (the whole 127.0.0.0/8 is local on Linux), so one test process can
 * play many clients; waiting out a window edge; a TCP proxy to cut Redis.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, IncomingHttpHeaders } from 'node:http';
import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';
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

/**
 * A TCP proxy to a backend we can cut and restore, to kill "Redis" mid-test
 * without touching the shared server: `cut()` refuses new connections and
 * drops the open ones; `restore()` listens on the same port again.
 */
export class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static async to(url: string): Promise<TcpProxy> {
    const u = new URL(url);
    const proxy = new TcpProxy(u.hostname, Number(u.port || 6379));
    await proxy.listen(0);
    return proxy;
  }

  /** The URL to give clients, with the target URL's scheme and credentials. */
  urlFor(targetUrl: string): string {
    const u = new URL(targetUrl);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  restore(): Promise<void> {
    return this.listen(this.port);
  }

  private listen(port: number): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }
}
