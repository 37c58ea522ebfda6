/**
 * Load-generation helpers for benchmarks that drive a separately spawned
 * server over HTTP: an open-loop scheduler (requests go out at their
 * scheduled time whatever the server does, latency counted from that time),
 * a closed-loop probe for saturation, a keep-alive HTTP POST, a tools/call on
 * the stateless 2026-07-28 path, and spawning the built server and CLI.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { percentile, workers } from './bench-util';

/** A small seeded PRNG (mulberry32), so both configurations get the same arrivals in a round. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Send times (ms from the start) of a Poisson arrival process at `rate` per
 * second for `seconds`: independent clients do not arrive evenly spaced, and
 * the bursts are what a group-commit writer has to absorb.
 */
export function poissonSchedule(rate: number, seconds: number, seed: number): number[] {
  const random = seededRandom(seed);
  const out: number[] = [];
  for (let t = 0; ;) {
    t += (-Math.log(1 - random()) / rate) * 1000;
    if (t >= seconds * 1000) return out;
    out.push(t);
  }
}

export interface Sample {
  /** Scheduled send time, ms from the start of the run. */
  at: number;
  /** From the scheduled send time to the end of the response body, ms. */
  latency: number;
  /** How late the request actually went out (the generator's own scheduling error), ms. */
  lag: number;
  /** Undefined when the call succeeded; else why it did not. */
  error?: string;
  /** What the send resolved with, when a number (the tool-latency bench: the server's reported audit wait, ms). */
  reported?: number;
}

/**
 * Open loop: request i is sent at `start + schedule[i]` (or as soon after
 * as the event loop allows), never held back by slow answers, and its
 * latency runs from that scheduled time, so a stall shows up in every
 * request it delays (no coordinated omission).
 */
export async function openLoop(schedule: number[], send: (i: number) => Promise<void>): Promise<Sample[]> {
  return (await openLoopFanout(schedule, [send]))[0];
}

/**
 * The open loop with each arrival sent to every target at the same moment
 * (`sends[j]` is target j): a paired design, in which whatever slows the
 * machine at that moment (another process, a disk flush, the generator
 * itself) hits every target's request alike, so their difference keeps the
 * targets' own costs and loses most of the shared noise. Which target goes
 * first alternates from one arrival to the next. One Sample[] per target.
 */
export function openLoopFanout(
  schedule: number[],
  sends: ((i: number) => Promise<number | void>)[],
): Promise<Sample[][]> {
  const samples: Sample[][] = sends.map(() => new Array(schedule.length));
  const total = schedule.length * sends.length;
  const start = performance.now() + 10;
  let next = 0;
  let done = 0;
  return new Promise((resolve) => {
    if (total === 0) return resolve(samples);
    const fire = (i: number) => {
      const due = start + schedule[i];
      for (let k = 0; k < sends.length; k++) {
        const j = (i + k) % sends.length;
        const lag = performance.now() - due;
        const finish = (error?: string, reported?: number) => {
          samples[j][i] = { at: schedule[i], latency: performance.now() - due, lag, error, reported };
          if (++done === total) resolve(samples);
        };
        sends[j](i).then(
          (value) => finish(undefined, typeof value === 'number' ? value : undefined),
          (e: unknown) => finish((e as Error)?.message ?? String(e)),
        );
      }
    };
    const tick = () => {
      const now = performance.now();
      while (next < schedule.length && start + schedule[next] <= now) fire(next++);
      if (next < schedule.length) setTimeout(tick, Math.max(0, start + schedule[next] - performance.now()));
    };
    setTimeout(tick, Math.max(0, start + schedule[0] - performance.now()));
  });
}

/** Closed loop: `concurrency` callers back to back for `seconds`; completed calls per second. */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  send: (i: number) => Promise<unknown>,
): Promise<{ calls: number; perSecond: number; p50: number; errors: number }> {
  const end = performance.now() + seconds * 1000;
  const run = await workers(concurrency, () => performance.now() < end, send);
  return {
    calls: run.latencies.length,
    perSecond: run.latencies.length / run.seconds,
    p50: percentile(run.latencies, 50),
    errors: run.errors,
  };
}

export interface Distribution {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function distribution(values: number[]): Distribution {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    max: s.length ? s[s.length - 1] : NaN,
  };
}

export const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/**
 * A 90% interval for p(a) - p(b), the difference of the `p`th percentiles,
 * by block bootstrap: each side's blocks (e.g. one second of one run each)
 * are drawn with replacement. Whole blocks, not single requests, because a
 * stall (GC, fsync, a busy core) delays a run of neighbouring requests
 * together; resampling requests one by one would pretend they were independent.
 * `paired`: a[k] and b[k] were measured over the same second (the fan-out
 * open loop), so each draw takes the same k on both sides and the shared
 * noise stays shared.
 */
export function bootstrapPercentileDiff(
  a: number[][],
  b: number[][],
  p: number,
  seed = 1,
  { rounds = 1000, paired = false }: { rounds?: number; paired?: boolean } = {},
) {
  if (paired && a.length !== b.length)
    throw new Error('paired bootstrap: the two sides need the same blocks');
  const random = seededRandom(seed);
  const pct = (values: number[]) =>
    percentile(
      values.sort((x, y) => x - y),
      p,
    );
  const diffs = Array.from({ length: rounds }, () => {
    const [x, y]: number[][] = [[], []];
    if (paired) {
      for (let i = 0; i < a.length; i++) {
        const k = Math.floor(random() * a.length);
        x.push(...a[k]);
        y.push(...b[k]);
      }
    } else {
      for (let i = 0; i < a.length; i++) x.push(...a[Math.floor(random() * a.length)]);
      for (let i = 0; i < b.length; i++) y.push(...b[Math.floor(random() * b.length)]);
    }
    return pct(x) - pct(y);
  }).sort((u, v) => u - v);
  return { low: percentile(diffs, 5), high: percentile(diffs, 95) };
}

/** POSTs `body` over a keep-alive agent; resolves with the status and the whole response body. */
export function post(
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
  body: string,
  timeoutMs = 10_000,
): Promise<{ status: number; contentType: string; text: string; serverTiming?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
            serverTiming: [res.headers['server-timing'] ?? []].flat().join(', ') || undefined,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A TCP port free on 127.0.0.1 at the time of asking. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  child: ChildProcess;
  /** Everything the process wrote so far (shown only when it fails to start). */
  output(): string;
  stop(): Promise<void>;
}

/** The PostgreSQL and Redis the benches use (BENCH_* first, then the tests' TEST_* settings, then the local services). */
export const BENCH_DATABASE_URL =
  process.env.BENCH_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/test';
export const BENCH_REDIS_URL =
  process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * The settings of a bench's built servers and CLI runs: the production shape
 * (PostgreSQL in `schema`, Redis under `redisPrefix`), fresh secrets, and
 * rate limits out of the way. One token audience for every process, so keys
 * made by the CLI work on every server (Host 127.0.0.1 is allowed).
 */
export function productionServerEnv(schema: string, redisPrefix: string): Record<string, string> {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: 'https://sentia-bench.invalid',
    DATABASE_URL: BENCH_DATABASE_URL,
    DATABASE_SCHEMA: schema,
    DATABASE_SSL: 'false',
    REDIS_URL: BENCH_REDIS_URL,
    // Its own keys and channels: a bench's rate-limit counters never reach a test run sharing this Redis.
    REDIS_KEY_PREFIX: redisPrefix,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    MASTER_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '10000000',
    RATE_LIMIT_IP_MAX: '10000000',
  };
}

/**
 * The benches' audit modes and the server settings behind each: `async` is
 * the baseline that does not wait; `hedged` is `sync` with AUDIT_HEDGE_MS=3
 * (a commit slower than that is answered from the local journal).
 */
export const AUDIT_MODE_ENV = {
  sync: { AUDIT_MODE: 'sync', AUDIT_DURABILITY: 'database', AUDIT_HEDGE_MS: '0' },
  journal: { AUDIT_MODE: 'sync', AUDIT_DURABILITY: 'journal', AUDIT_HEDGE_MS: '0' },
  hedged: { AUDIT_MODE: 'sync', AUDIT_DURABILITY: 'database', AUDIT_HEDGE_MS: '3' },
  async: { AUDIT_MODE: 'async', AUDIT_DURABILITY: 'database', AUDIT_HEDGE_MS: '0' },
} as const;
/** The modes a bench runs when BENCH_MODES does not say. */
export const DEFAULT_AUDIT_MODES = 'sync,journal,async';
export type AuditMode = keyof typeof AUDIT_MODE_ENV;

/** Runs `node <main>` with exactly `env` (plus PATH) and waits until `healthUrl` answers 2xx. */
export async function startServer(
  main: string,
  env: Record<string, string>,
  healthUrl: string,
): Promise<ServerProcess> {
  let out = '';
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  const server = { child, output: () => out, stop };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(healthUrl, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) return server;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`server did not become healthy at ${healthUrl}:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Issues an API key with the built CLI (`sentia-mcp keys create --json`) under `env`. */
export async function createApiKey(
  cliMain: string,
  env: Record<string, string>,
  name: string,
  permissions: string[],
): Promise<{ token: string; id: string }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      cliMain,
      'keys',
      'create',
      '--org',
      'bench',
      '--name',
      name,
      '--permissions',
      permissions.join(','),
      '--json',
    ],
    { env: { PATH: process.env.PATH ?? '', ...env } },
  );
  const created = JSON.parse(stdout) as { token: string; key: { id: string } };
  return { token: created.token, id: created.key.id };
}

const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

export interface ToolResult {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
}

/** A `Server-Timing` header's `name;dur=ms` metrics (SERVER_TIMING on the server); others are skipped. */
export function serverTimings(header: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of header?.split(',') ?? []) {
    const [name, ...params] = entry.trim().split(';');
    const dur = params.find((p) => p.startsWith('dur='));
    if (name && dur !== undefined) out.set(name, Number(dur.slice(4)));
  }
  return out;
}

/**
 * One `tools/call` on the stateless 2026-07-28 path (no session, no
 * initialize); resolves with the tool result and the answer's Server-Timing
 * metrics once the whole body is in, throws on any HTTP, JSON-RPC or tool
 * error. `requestId` is sent as X-Request-Id (the audit row's request_id).
 */
export async function callToolModern(
  agent: Agent,
  url: URL,
  token: string,
  tool: string,
  id: number,
  requestId?: string,
  args: Record<string, unknown> = {},
): Promise<{ result: ToolResult; timing: Map<string, number> }> {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: tool, arguments: args, _meta: MODERN_META },
  });
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${token}`,
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': 'tools/call',
    'mcp-name': tool,
    // The server keeps a caller's X-Request-Id as the audit row's request_id.
    ...(requestId !== undefined && { 'x-request-id': requestId }),
  };
  const res = await post(agent, url, headers, body);
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  // An SSE answer carries the JSON-RPC response as its last data line.
  const json = res.contentType.includes('text/event-stream')
    ? res.text
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .pop()
        ?.slice(5)
    : res.text;
  const msg = JSON.parse(json ?? 'null') as { id?: number; error?: { code: number }; result?: ToolResult };
  if (msg?.error) throw new Error(`JSON-RPC error ${msg.error.code}`);
  if (msg?.id !== id || !msg.result) throw new Error('no result for this request id');
  if (msg.result.isError) throw new Error('tool result isError');
  return { result: msg.result, timing: serverTimings(res.serverTiming) };
}
