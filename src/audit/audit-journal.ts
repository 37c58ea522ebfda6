import { randomUUID } from 'node:crypto';
import {
  closeSync,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  promises as fs,
  readFileSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { AuditRow } from './audit-record';
import { parseRows, syncDirSync } from './audit-spool';
import { DEFAULT_AUDIT_OPTIONS } from './audit.options';

export const JOURNAL_DIR_NAME = 'audit-journal';
/** An owner file not touched for this long belongs to a process that is gone (live ones touch it every 2 s). */
export const JOURNAL_OWNER_STALE_MS = 10_000;
const HEARTBEAT_MS = 2_000;

/** Who owns a journal: written to `<journal id>.owner` when the journal starts. */
interface Owner {
  pid: number;
  host: string;
  journal: string;
  /** The process's start time in clock ticks since boot (Linux /proc), telling a reused pid apart. */
  started?: string;
}

/**
 * Writes one batch of rows to the database, idempotently on (writer_id,
 * seq); `canonical[i]`, when given, is canonicalRow(rows[i]). Throws when it cannot.
 */
export type ShipRows = (rows: AuditRow[], canonical?: readonly string[]) => Promise<void>;

interface Segment {
  path: string;
  /** Rows appended to it. */
  rows: number;
  /** How many of them are stored in the database (the oldest ones). */
  shipped: number;
}

export interface JournalLimits {
  /** An owner file not touched for this long belongs to a process that is gone. */
  ownerStaleMs: number;
  /** A new segment is started once the open one holds this many bytes. */
  segmentBytes: number;
  /** Rows kept in memory for shipping; beyond it (a long outage) shipping reads the segments. */
  maxQueuedRows: number;
}

export const DEFAULT_JOURNAL_LIMITS: JournalLimits = {
  ownerStaleMs: JOURNAL_OWNER_STALE_MS,
  segmentBytes: DEFAULT_AUDIT_OPTIONS.journalSegmentBytes,
  maxQueuedRows: DEFAULT_AUDIT_OPTIONS.journalMaxQueuedRows,
};

/**
 * The local write-ahead journal of AUDIT_DURABILITY=journal: a batch is
 * durable once appended to this process's open segment and fdatasync'd,
 * which happens synchronously on the event loop (no thread-pool round trips:
 * the wait is the disk's flush alone). A shipper then inserts the rows into
 * the database in order, idempotently on (writer_id, seq), from memory (from
 * the segments after an outage longer than `maxQueuedRows`); a segment is
 * closed at `segmentBytes` and deleted once all its rows are stored.
 *
 * Layout, in `DATA_DIR/audit-journal/`: `<id>.owner` (pid and host of the
 * owning process, touched every 2 s) and segments `<id>.<n>.ndjson`, one
 * JSON row per line. Only the owner appends to its segments. Segments whose
 * owner file is missing, names a process on this host that no longer runs,
 * or has not been touched for JOURNAL_OWNER_STALE_MS are orphans (a crash,
 * or a shutdown while the database was down): `recoverOrphans` ships them at
 * boot. Shipping is idempotent, so two processes recovering the same orphan
 * at once store each row once.
 *
 * A failed append is cut back to the segment's previous size and the
 * segment closed, so a torn batch never precedes a later one; if the cut
 * fails too, the torn last line is unparseable and skipped when shipped.
 */
export class AuditJournal {
  readonly id = randomUUID();
  readonly dir: string;
  /** This journal's segments with rows not yet shipped (and the open one), oldest first. */
  private readonly segments: Segment[] = [];
  /** The open segment's descriptor (the last of `segments`). */
  private fd?: number;
  private openBytes = 0;
  private segmentNo = 0;
  /** Rows appended and not yet shipped, in order, while `fromMemory` (with their canonical texts). */
  private queue: Array<{ rows: readonly AuditRow[]; canonical?: readonly string[] }> = [];
  private queuedRows = 0;
  /** False after the queue outgrew `maxQueuedRows` (a long outage): shipping then reads the segments. */
  private fromMemory = true;
  private started = false;
  private heartbeat?: NodeJS.Timeout;
  /** Rows appended and not yet shipped. */
  pendingRows = 0;

  constructor(
    dataDir: string,
    private readonly limits: JournalLimits = DEFAULT_JOURNAL_LIMITS,
  ) {
    this.dir = join(dataDir, JOURNAL_DIR_NAME);
  }

  get ownerPath(): string {
    return join(this.dir, `${this.id}.owner`);
  }

  /**
   * Appends the rows and fdatasyncs, synchronously; throws when that fails
   * (nothing then counts as written). `canonical[i]`, when given, is
   * canonicalRow(rows[i]), kept for the ship's INSERT.
   */
  appendSync(rows: readonly AuditRow[], canonical?: readonly string[]): void {
    if (this.fd !== undefined && this.openBytes >= this.limits.segmentBytes) this.closeSegment();
    if (this.fd === undefined) this.openSegment();
    const fd = this.fd!;
    const data = Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n', 'utf8');
    try {
      for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
      fdatasyncSync(fd);
    } catch (err) {
      try {
        ftruncateSync(fd, this.openBytes);
        fdatasyncSync(fd);
      } catch {
        // The torn line has no newline and does not parse: it is skipped when shipped.
      }
      this.closeSegment();
      throw err;
    }
    this.openBytes += data.length;
    this.segments[this.segments.length - 1].rows += rows.length;
    this.pendingRows += rows.length;
    if (!this.fromMemory) return;
    this.queue.push({ rows, canonical });
    this.queuedRows += rows.length;
    if (this.queuedRows > this.limits.maxQueuedRows) {
      // The database has been away for a while: stop holding rows in memory, the segments have them.
      this.fromMemory = false;
      this.queue = [];
      this.queuedRows = 0;
    }
  }

  /**
   * Inserts every row not yet shipped, oldest first, and deletes the closed
   * segments whose rows are all stored. Rows come from memory; after a long
   * outage, from the segments (the open one is closed first). Throws when
   * the database refuses; what was not stored stays for the next try.
   * Resolves with the number of rows shipped.
   */
  async ship(insert: ShipRows, batchMaxRows: number): Promise<number> {
    const before = this.pendingRows;
    if (this.fromMemory) {
      while (this.queue.length > 0) {
        const { rows, canonical } = this.peekQueued(batchMaxRows);
        await insert(rows, canonical);
        this.dropQueued(rows.length);
        this.markShipped(rows.length);
      }
    } else {
      if (this.fd !== undefined && this.openBytes > 0) this.closeSegment();
      for (const seg of this.segments.filter((s) => s !== this.openSegmentEntry())) {
        const rows = parseRows(await fs.readFile(seg.path, 'utf8')).slice(seg.shipped);
        for (let i = 0; i < rows.length; i += batchMaxRows) {
          const chunk = rows.slice(i, i + batchMaxRows);
          await insert(chunk);
          this.markShipped(chunk.length);
        }
        // A torn tail (cut short by a failed append) counted no rows; the segment is done.
        if (seg.shipped < seg.rows) this.markShipped(seg.rows - seg.shipped);
      }
      if (this.pendingRows === 0) this.fromMemory = true;
    }
    await this.dropShippedSegments();
    return before - this.pendingRows;
  }

  /** Ships the segments of journals whose owner is gone; resolves with the rows found in them. */
  async recoverOrphans(insert: ShipRows, batchMaxRows: number): Promise<number> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return 0;
    }
    const orphans = new Map<string, Array<{ n: number; name: string }>>();
    for (const name of names) {
      const m = /^([0-9a-f-]{36})\.(\d+)\.ndjson$/.exec(name);
      if (!m || m[1] === this.id) continue;
      const list = orphans.get(m[1]) ?? [];
      list.push({ n: Number(m[2]), name });
      orphans.set(m[1], list);
    }
    let rows = 0;
    for (const [id, list] of orphans) {
      if (!(await this.ownerGone(id))) continue;
      list.sort((a, b) => a.n - b.n);
      for (const { name } of list) rows += await shipFile(join(this.dir, name), insert, batchMaxRows);
      await fs.unlink(join(this.dir, `${id}.owner`)).catch(() => undefined);
    }
    return rows;
  }

  /**
   * Stops the heartbeat and closes the open segment; deletes the segments
   * whose rows are all stored and the owner file. Segments still here are
   * then orphans, which the next process ships at once.
   */
  close(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (this.fd !== undefined) this.closeSegment();
    if (!this.started) return;
    for (const seg of this.segments.splice(0)) {
      if (seg.shipped >= seg.rows) unlinkQuietly(seg.path);
    }
    unlinkQuietly(this.ownerPath);
    this.started = false;
  }

  private start(): void {
    if (this.started) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const owner: Owner = {
      pid: process.pid,
      host: hostname(),
      journal: this.id,
      started: processStart(process.pid),
    };
    writeFileSync(this.ownerPath, JSON.stringify(owner), { mode: 0o600, flag: 'wx' });
    syncDirSync(this.dir);
    this.started = true;
    this.heartbeat = setInterval(() => {
      const now = new Date();
      try {
        utimesSync(this.ownerPath, now, now);
      } catch {
        // The next append fails loudly if the directory is gone.
      }
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private openSegment(): void {
    this.start();
    const path = join(this.dir, `${this.id}.${String(++this.segmentNo).padStart(8, '0')}.ndjson`);
    this.fd = openSync(path, 'wx', 0o600);
    syncDirSync(this.dir); // the segment's name is durable before any row in it counts
    this.segments.push({ path, rows: 0, shipped: 0 });
    this.openBytes = 0;
  }

  private closeSegment(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // Its rows were fdatasync'd already.
    }
    this.fd = undefined;
    this.openBytes = 0;
  }

  private openSegmentEntry(): Segment | undefined {
    return this.fd === undefined ? undefined : this.segments[this.segments.length - 1];
  }

  /** Up to `max` queued rows, oldest first (they stay queued until `dropQueued`). */
  private peekQueued(max: number): { rows: AuditRow[]; canonical?: string[] } {
    const rows: AuditRow[] = [];
    let canonical: string[] | undefined = [];
    for (const entry of this.queue) {
      if (rows.length >= max) break;
      const n = Math.min(entry.rows.length, max - rows.length);
      rows.push(...entry.rows.slice(0, n));
      if (canonical && entry.canonical) canonical.push(...entry.canonical.slice(0, n));
      else canonical = undefined;
    }
    return { rows, canonical };
  }

  /** Takes the `n` oldest rows off the queue (they are stored). */
  private dropQueued(n: number): void {
    this.queuedRows -= n;
    while (n > 0) {
      const head = this.queue[0];
      if (head.rows.length <= n) {
        this.queue.shift();
        n -= head.rows.length;
      } else {
        this.queue[0] = { rows: head.rows.slice(n), canonical: head.canonical?.slice(n) };
        n = 0;
      }
    }
  }

  /** `n` more rows are stored: they are the oldest unshipped ones, segment by segment. */
  private markShipped(n: number): void {
    this.pendingRows -= n;
    for (const seg of this.segments) {
      if (n === 0) break;
      const take = Math.min(n, seg.rows - seg.shipped);
      seg.shipped += take;
      n -= take;
    }
  }

  /** Deletes the closed segments whose rows are all stored (a deletion lost to a crash only ships them again). */
  private async dropShippedSegments(): Promise<void> {
    const open = this.openSegmentEntry();
    while (this.segments.length > 0 && this.segments[0] !== open) {
      const seg = this.segments[0];
      if (seg.shipped < seg.rows) break;
      this.segments.shift();
      await fs.unlink(seg.path).catch(() => undefined);
    }
  }

  /**
   * True when journal `id`'s owner is gone: its owner file is missing, or
   * names a process of this host that no longer runs (by pid and, where
   * /proc tells, start time), or, for another host or an unreadable file,
   * has not been touched for `limits.ownerStaleMs`.
   */
  private async ownerGone(id: string): Promise<boolean> {
    const path = join(this.dir, `${id}.owner`);
    let mtimeMs: number;
    let text: string;
    try {
      mtimeMs = (await fs.stat(path)).mtimeMs;
      text = await fs.readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw err;
    }
    let owner: Owner | undefined;
    try {
      owner = JSON.parse(text) as Owner;
    } catch {
      // Torn by a crash while it was written: judged by its age below.
    }
    if (owner && owner.host === hostname()) {
      // The same pid with another journal id is an earlier process (a container restarts as pid 1 again).
      if (owner.pid === process.pid) return true;
      if (!processRuns(owner.pid)) return true;
      const started = processStart(owner.pid);
      if (started !== undefined && owner.started !== undefined) return started !== owner.started;
    }
    return Date.now() - mtimeMs > this.limits.ownerStaleMs;
  }
}

/** Inserts a segment's rows in batches and deletes it; resolves with its row count. */
async function shipFile(path: string, insert: ShipRows, batchMaxRows: number): Promise<number> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0; // shipped by another process
    throw err;
  }
  const rows = parseRows(text);
  for (let i = 0; i < rows.length; i += batchMaxRows) await insert(rows.slice(i, i + batchMaxRows));
  // A deletion lost to a crash only ships the segment again, which stores nothing twice.
  await fs.unlink(path).catch(() => undefined);
  return rows.length;
}

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22); undefined without /proc. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces: field 3 is [0].
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
