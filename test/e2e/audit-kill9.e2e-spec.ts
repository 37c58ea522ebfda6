/**
 * "Answered means audited", proven the hard way: the built server under
 * concurrent tool-call load is killed with SIGKILL (no shutdown hook runs),
 * restarted on the same data (it replays an audit spool at boot, if one was
 * left), and stopped cleanly. Then every request id that got a 200 with a
 * JSON-RPC result must be in `audit_logs` exactly once, no row may be
 * duplicated, and `audit verify` must still find every hash chain intact.
 * Calls in flight at the kill may or may not be audited (the client never
 * got their answer); they are only counted.
 *
 * Once on SQLite in DATA_DIR (embedded shape), once on PostgreSQL (own schema),
 * and once on PostgreSQL with the audit table moved away halfway through the
 * load, so the calls answered last are durable only in the spool when the kill
 * comes and reach the table through the replay at the next boot. The last
 * again with AUDIT_DURABILITY=journal: every call is durable first in the
 * local journal, which the next boot ships. And with AUDIT_HEDGE_MS=1: calls
 * whose commit is slower than 1 ms are answered from the local journal, so
 * at the kill some answered calls' commits are still in flight (PostgreSQL
 * rolls those back when the connection drops) and only the journal, shipped
 * at the next boot, holds them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { main } from '../../src/cli/main';
import { JOURNAL_DIR_NAME } from '../../src/audit/audit-journal';
import { SPOOL_FILE_NAME } from '../../src/audit/audit.options';
import { describeWithPostgres, TEST_DATABASE_URL, uniqueName } from '../support/backends';
import { freePort, spawnServer, SpawnedServer, waitForOk } from '../support/spawn-server';
import { modernToolCallInit } from '../support/mcp-messages';

jest.setTimeout(240_000);

const WORKERS = 16;
const MIN_LOAD_MS = 1_500;
/** Load continues past MIN_LOAD_MS until this many calls were answered, bounded by MAX_LOAD_MS. */
const MIN_ANSWERED = 200;
const MAX_LOAD_MS = 30_000;
const BOOT_MS = 90_000;

type Env = Record<string, string>;

interface Backend {
  env: Env;
  /** Makes the database refuse audit inserts (the writer then spools) and back; PostgreSQL only. */
  refuseAuditWrites?(refuse: boolean): Promise<void>;
  /** request_id → number of `tool_call` rows, for request ids starting with `prefix`. */
  audited(prefix: string, dataDir: string): Promise<Map<string, number>>;
  cleanup(): Promise<void>;
}

async function cli(argv: string[], env: Env): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, env, { out: (t) => void out.push(t), err: (t) => void err.push(t) });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** The JSON-RPC reply of a stateless call, sent either as JSON or as one SSE message. */
function parseReply(
  text: string,
): { id?: number; result?: { isError?: boolean }; error?: unknown } | undefined {
  try {
    if (text.trimStart().startsWith('{')) return JSON.parse(text);
    const data = text.split('\n').find((l) => l.startsWith('data: {'));
    return data ? JSON.parse(data.slice(6)) : undefined;
  } catch {
    return undefined;
  }
}

interface LoadState {
  sent: Set<string>;
  answered: Set<string>;
  inFlight: Set<string>;
  statuses: Map<string, number>;
  stopping: boolean;
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** One client: sends server_info calls back to back until told to stop; records what was answered. */
async function worker(mcp: string, token: string, prefix: string, w: number, s: LoadState): Promise<void> {
  for (let n = 1; !s.stopping; n++) {
    const id = `${prefix}-${w}-${n}`;
    s.sent.add(id);
    s.inFlight.add(id);
    try {
      const res = await fetch(mcp, {
        ...modernToolCallInit(token, { id: n, requestId: id, clientName: 'kill9' }),
        signal: AbortSignal.timeout(60_000),
      });
      const reply = parseReply(await res.text());
      if (res.status === 200 && reply?.id === n && reply.result) {
        s.answered.add(id);
        count(s.statuses, reply.result.isError ? '200 isError' : '200 result');
      } else {
        count(s.statuses, `${res.status} ${reply?.error ? 'error' : 'other'}`);
      }
    } catch {
      count(s.statuses, 'no answer'); // connection refused or reset by the kill
    } finally {
      s.inFlight.delete(id);
    }
  }
}

/** Waits (bounded) until `done()` or `ms` passed or the server died. */
async function loadUntil(done: () => boolean, ms: number, alive: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end && alive()) await new Promise((r) => setTimeout(r, 50));
}

/** `audit_hedged_total` from the server's /metrics (public in the test environment); 0 when unreadable. */
async function hedgedSoFar(base: string): Promise<number> {
  const text = await fetch(`${base}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  return Number(/^audit_hedged_total (\S+)$/m.exec(text)?.[1] ?? 0);
}

/**
 * `spool`: halfway through the load the database starts refusing audit
 * inserts, so the calls answered from then on are durable only in the spool
 * when the kill comes; the database accepts them again before the restart,
 * whose boot replays the spool. `extraEnv` goes to the server; with
 * AUDIT_HEDGE_MS in it, the load goes on until the server has hedged.
 */
function killUnderLoad(
  makeBackend: () => Promise<Backend>,
  title: string,
  spool = false,
  durability: 'database' | 'journal' = 'database',
  extraEnv: Env = {},
): void {
  let dataDir: string;
  let backend: Backend | undefined;
  const servers: SpawnedServer[] = [];
  let load: LoadState | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sentia-kill9-'));
  });

  afterEach(async () => {
    if (load) load.stopping = true; // a failed test leaves no client running
    for (const s of servers.splice(0))
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await backend?.cleanup();
    backend = undefined;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(title, async () => {
    backend = await makeBackend();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env: Env = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_BASE_URL: base,
      DATA_DIR: dataDir,
      RATE_LIMIT_MAX: '10000000',
      RATE_LIMIT_IP_MAX: '10000000',
      SHUTDOWN_GRACE_MS: '20000',
      AUDIT_DURABILITY: durability,
      ...extraEnv,
      ...backend.env,
    };

    // The operator's first key, issued by the CLI on the same DATA_DIR / database.
    const created = await cli(
      ['keys', 'create', '--org', 'o', '--name', 'k', '--permissions', 'ai:invoke'],
      env,
    );
    expect(created).toMatchObject({ code: 0 });
    const token = created.stdout.trim();

    const first = spawnServer(env);
    servers.push(first);
    const alive = (s: SpawnedServer) => () => s.child.exitCode === null && s.child.signalCode === null;
    await waitForOk(`${base}/health/ready`, BOOT_MS, alive(first)).catch((e: Error) => {
      throw new Error(`${e.message}\n${first.output()}`);
    });

    const prefix = `k9-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const state: LoadState = {
      sent: new Set(),
      answered: new Set(),
      inFlight: new Set(),
      statuses: new Map(),
      stopping: false,
    };
    load = state;
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(`${base}/mcp`, token, prefix, w, state));
    let started = Date.now();
    const loaded = (min: number) => () => Date.now() - started >= MIN_LOAD_MS && state.answered.size >= min;
    await loadUntil(loaded(MIN_ANSWERED), MAX_LOAD_MS, alive(first));
    let hedged = 0;
    if (extraEnv.AUDIT_HEDGE_MS) {
      // The load goes on until some calls were answered from the journal (and a little after).
      for (const end = Date.now() + MAX_LOAD_MS; hedged === 0 && Date.now() < end && alive(first)();) {
        hedged = await hedgedSoFar(base);
        if (hedged === 0) await new Promise((r) => setTimeout(r, 50));
      }
      expect(hedged).toBeGreaterThan(0);
      await loadUntil(loaded(state.answered.size + MIN_ANSWERED), MAX_LOAD_MS, alive(first));
    }
    let answeredBeforeRefusal = 0;
    if (spool) {
      await backend.refuseAuditWrites!(true);
      answeredBeforeRefusal = state.answered.size;
      started = Date.now();
      await loadUntil(loaded(answeredBeforeRefusal + MIN_ANSWERED), MAX_LOAD_MS, alive(first));
    }
    expect(alive(first)()).toBe(true);

    // kill -9 while calls are in flight: no shutdown hook, no flush.
    state.stopping = true;
    const inFlightAtKill = state.inFlight.size;
    const answeredBeforeKill = state.answered.size;
    first.child.kill('SIGKILL');
    await first.exited;
    await Promise.all(workers); // each ends within its fetch timeout at most
    // What is durable only on the local disk: the spool, or the journal's segments (journal durability, hedging).
    const local = durability === 'journal' || extraEnv.AUDIT_HEDGE_MS ? 'journal' : 'spool';
    const spoolBytes = (() => {
      try {
        if (local === 'spool') return statSync(join(dataDir, SPOOL_FILE_NAME)).size;
        const dir = join(dataDir, JOURNAL_DIR_NAME);
        return readdirSync(dir)
          .filter((f) => f.endsWith('.ndjson'))
          .reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
      } catch {
        return 0;
      }
    })();

    if (spool) {
      expect(spoolBytes).toBeGreaterThan(0); // the last calls were durable only in the spool (or journal)
      await backend.refuseAuditWrites!(false);
    }

    // Restart on the same data: it replays a spool or ships a journal left behind, if any; then a clean stop flushes.
    const second = spawnServer(env);
    servers.push(second);
    await waitForOk(`${base}/health/ready`, BOOT_MS, alive(second)).catch((e: Error) => {
      throw new Error(`${e.message}\n${second.output()}`);
    });
    expect(await second.stop()).toBe(0);

    const audited = await backend.audited(prefix, dataDir);
    const missing = [...state.answered].filter((id) => !audited.has(id));
    const duplicated = [...audited].filter(([, n]) => n !== 1);
    const unknown = [...audited.keys()].filter((id) => !state.sent.has(id));
    const auditedUnanswered = [...audited.keys()].filter((id) => !state.answered.has(id));
    const verify = await cli(['audit', 'verify', '--json'], env);

    console.log(
      [
        `kill -9 under load: ${state.sent.size} sent, ${state.answered.size} answered ` +
          `(${answeredBeforeKill} before the kill), ${inFlightAtKill} in flight when killed, ` +
          `${audited.size} audited (${auditedUnanswered.length} of them never answered), ` +
          `${missing.length} answered but not audited, ${duplicated.length} duplicated, ` +
          `${local} at kill ${spoolBytes} bytes` +
          (hedged > 0 ? ` (${hedged} records hedged to the journal before the kill)` : '') +
          (spool ? ` (database refused audit writes after ${answeredBeforeRefusal} answered)` : ''),
        `responses: ${JSON.stringify(Object.fromEntries(state.statuses))}`,
        `audit verify: ${verify.stdout.trim() || verify.stderr.trim()}`,
      ].join('\n'),
    );

    expect(state.answered.size).toBeGreaterThan(0);
    expect(missing).toEqual([]);
    expect(duplicated).toEqual([]);
    expect(unknown).toEqual([]);
    expect(verify.code).toBe(0);
  });
}

const ANSWERED_AUDITED = 'every call answered before a kill -9 is audited exactly once after the restart';

describe('audit trail across kill -9 under load: SQLite (embedded)', () => {
  killUnderLoad(
    async () => ({
      env: {},
      audited: async (prefix, dataDir) => {
        const db = new Database(join(dataDir, 'sentia.sqlite'), { fileMustExist: true });
        try {
          const rows = db
            .prepare(
              `SELECT request_id AS id, COUNT(*) AS n FROM audit_logs
               WHERE kind = 'tool_call' AND substr(request_id, 1, ?) = ? GROUP BY request_id`,
            )
            .all(prefix.length, prefix) as { id: string; n: number }[];
          return new Map(rows.map((r) => [r.id, Number(r.n)]));
        } finally {
          db.close();
        }
      },
      cleanup: async () => undefined,
    }),
    ANSWERED_AUDITED,
  );
});

async function withPg<T>(fn: (pg: Client) => Promise<T>): Promise<T> {
  const pg = new Client({ connectionString: TEST_DATABASE_URL });
  await pg.connect();
  try {
    return await fn(pg);
  } finally {
    await pg.end();
  }
}

function postgresBackend(): Promise<Backend> {
  const schema = uniqueName('kill9');
  return Promise.resolve({
    env: { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema },
    audited: (prefix) =>
      withPg(async (pg) => {
        const { rows } = await pg.query<{ id: string; n: number }>(
          `SELECT request_id AS id, COUNT(*)::int AS n FROM "${schema}".audit_logs
           WHERE kind = 'tool_call' AND left(request_id, $1) = $2 GROUP BY request_id`,
          [prefix.length, prefix],
        );
        return new Map(rows.map((r) => [r.id, r.n]));
      }),
    // The table moves out of the server's way: its inserts fail (undefined table) and it spools.
    refuseAuditWrites: (refuse) =>
      withPg(async (pg) => {
        const [from, to] = refuse ? ['audit_logs', 'audit_logs_away'] : ['audit_logs_away', 'audit_logs'];
        await pg.query(`ALTER TABLE "${schema}".${from} RENAME TO ${to}`);
      }),
    cleanup: () =>
      withPg((pg) => pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).then(() => undefined),
  });
}

describeWithPostgres('audit trail across kill -9 under load: PostgreSQL', () => {
  killUnderLoad(postgresBackend, ANSWERED_AUDITED);
  killUnderLoad(
    postgresBackend,
    'with the database refusing audit writes, every answered call is in the spool at the kill and in the table once after the restart',
    true,
  );
  killUnderLoad(
    postgresBackend,
    'AUDIT_DURABILITY=journal, the database refusing audit writes: every answered call is in the journal at the kill and in the table once after the restart',
    true,
    'journal',
  );
  killUnderLoad(
    postgresBackend,
    'AUDIT_HEDGE_MS=1: every call answered from the journal while its commit was slow is in the table once after the restart',
    false,
    'database',
    { AUDIT_HEDGE_MS: '1' },
  );
});
