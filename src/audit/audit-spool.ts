import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, openSync, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AuditRow } from './audit-record';
import { SPOOL_FILE_NAME, SPOOL_LOCK_FILE_NAME, SPOOL_REFUSED_FILE_NAME } from './audit.options';

/** A lock file older than this is left from a crashed process (the sections it guards take milliseconds). */
export const SPOOL_LOCK_STALE_MS = 10_000;
const LOCK_POLL_MS = 5;

/**
 * The append-only spool the writer falls back to when the database cannot
 * be written: one JSON row per line (`audit-spool.ndjson` in DATA_DIR, mode
 * 0600). An append is fsync'd before it counts as durable; a failed append is
 * cut back to the previous size so a torn batch never stays in the file.
 *
 * Two processes may share the DATA_DIR (a server and the command line, or a
 * restarted server beside a dying one). Appending, taking a snapshot for
 * replay and cutting the replayed part off happen while holding
 * `audit-spool.lock` (created with O_EXCL, removed after; one older than
 * SPOOL_LOCK_STALE_MS is broken), so no process cuts off rows another one
 * appended after its snapshot. The database inserts of a replay run outside
 * the lock; they are idempotent on (writer_id, seq).
 */
/** An append failed; `clean` says whether the file was cut back to its size before the append. */
export class SpoolWriteError extends Error {
  override name = 'SpoolWriteError';
  constructor(
    readonly clean: boolean,
    readonly reason: unknown,
  ) {
    super(`audit spool append failed: ${(reason as Error)?.message ?? String(reason)}`);
  }
}

export class AuditSpool {
  readonly path: string;
  readonly lockPath: string;
  readonly refusedPath: string;

  constructor(
    dir: string,
    private readonly lockStaleMs = SPOOL_LOCK_STALE_MS,
  ) {
    this.path = join(dir, SPOOL_FILE_NAME);
    this.lockPath = join(dir, SPOOL_LOCK_FILE_NAME);
    this.refusedPath = join(dir, SPOOL_REFUSED_FILE_NAME);
  }

  /**
   * Keeps rows the database refused as data in `audit-spool.refused.ndjson`
   * (fsync'd, never replayed), so one such row cannot hold every later record
   * in the spool; the chain verifier then names the gap they leave.
   */
  async setAside(rows: readonly AuditRow[]): Promise<void> {
    const release = await this.lock();
    try {
      await this.appendLocked(rows, this.refusedPath);
    } finally {
      await release();
    }
  }

  /** Appends rows and fsyncs; throws SpoolWriteError if that fails (after trying to cut the file back). */
  async append(rows: readonly AuditRow[]): Promise<void> {
    let release: () => Promise<void>;
    try {
      release = await this.lock();
    } catch (err) {
      throw new SpoolWriteError(true, err); // nothing was written
    }
    try {
      await this.appendLocked(rows);
    } finally {
      await release();
    }
  }

  /** The rows to replay and how many bytes of the file they came from (for `consume`). */
  async snapshot(): Promise<{ rows: AuditRow[]; bytes: number }> {
    if ((await this.size()) === 0) return { rows: [], bytes: 0 };
    const release = await this.lock();
    try {
      let text: Buffer;
      try {
        text = await fs.readFile(this.path);
      } catch (err) {
        if (absent(err)) return { rows: [], bytes: 0 };
        throw err;
      }
      return { rows: parseRows(text.toString('utf8')), bytes: text.length };
    } finally {
      await release();
    }
  }

  /**
   * Drops the first `bytes` bytes (a replayed snapshot) and fsyncs, keeping
   * whatever was appended after the snapshot.
   */
  async consume(bytes: number): Promise<void> {
    if ((await this.size()) === 0) return;
    const release = await this.lock();
    try {
      await this.consumeLocked(bytes);
    } finally {
      await release();
    }
  }

  private async appendLocked(rows: readonly AuditRow[], path = this.path): Promise<void> {
    const data = Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n', 'utf8');
    let handle: fs.FileHandle;
    let created: boolean;
    try {
      await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
      created = !(await this.exists(path));
      handle = await fs.open(path, 'a', 0o600);
    } catch (err) {
      throw new SpoolWriteError(true, err); // nothing was written
    }
    let before = -1;
    try {
      before = (await handle.stat()).size;
      await handle.write(data);
      await handle.sync();
    } catch (err) {
      const clean =
        before >= 0 &&
        (await handle
          .truncate(before)
          .then(() => handle.sync())
          .then(
            () => true,
            () => false,
          ));
      await handle.close().catch(() => undefined);
      throw new SpoolWriteError(clean, err);
    }
    await handle.close().catch(() => undefined);
    if (created) await syncDir(dirname(path));
  }

  /** Every complete row in the spool, oldest first. A torn last line (never acknowledged) is skipped. */
  async read(): Promise<AuditRow[]> {
    return (await this.snapshot()).rows;
  }

  async size(): Promise<number> {
    try {
      return (await fs.stat(this.path)).size;
    } catch (err) {
      if (absent(err)) return 0;
      throw err;
    }
  }

  /** Empties the spool and fsyncs; a spool that does not exist is empty. */
  clear(): Promise<void> {
    return this.consume(Number.MAX_SAFE_INTEGER);
  }

  private async consumeLocked(bytes: number): Promise<void> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.path, 'r+');
    } catch (err) {
      if (absent(err)) return;
      throw err;
    }
    let tail: Buffer;
    try {
      const size = (await handle.stat()).size;
      if (size <= bytes) {
        await handle.truncate(0);
        await handle.sync();
        return;
      }
      tail = Buffer.alloc(size - bytes);
      await handle.read(tail, 0, tail.length, bytes);
    } finally {
      await handle.close();
    }
    // Rows appended after the snapshot stay: write them to a new file and move it into place.
    const tmp = `${this.path}.tmp`;
    const out = await fs.open(tmp, 'w', 0o600);
    try {
      await out.write(tail);
      await out.sync();
    } finally {
      await out.close();
    }
    await fs.rename(tmp, this.path);
    await syncDir(dirname(this.path));
  }

  /** Takes `audit-spool.lock` (O_EXCL), waiting for another holder; resolves to its release. */
  private async lock(): Promise<() => Promise<void>> {
    await fs.mkdir(dirname(this.lockPath), { recursive: true, mode: 0o700 });
    const token = `${process.pid} ${randomUUID()}\n`;
    const deadline = Date.now() + 2 * this.lockStaleMs;
    for (;;) {
      try {
        await fs.writeFile(this.lockPath, token, { flag: 'wx', mode: 0o600 });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (await this.breakStaleLock()) continue;
        if (Date.now() > deadline) throw new Error('audit spool lock is held by another process');
        await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
      }
    }
    return async () => {
      // Only our own lock: if it was broken as stale meanwhile, the file is someone else's now.
      const held = await fs.readFile(this.lockPath, 'utf8').catch(() => undefined);
      if (held === token) await fs.unlink(this.lockPath).catch(() => undefined);
    };
  }

  /** Removes a lock file left by a crashed process; true when there is (now) none. */
  private async breakStaleLock(): Promise<boolean> {
    try {
      const { mtimeMs } = await fs.stat(this.lockPath);
      if (Date.now() - mtimeMs < this.lockStaleMs) return false;
      await fs.unlink(this.lockPath);
      return true;
    } catch (err) {
      return absent(err);
    }
  }

  private async exists(path = this.path): Promise<boolean> {
    return fs.stat(path).then(
      () => true,
      () => false,
    );
  }
}

/** Every complete JSON row of an ndjson text; a torn line (cut short by a crash mid-append) is skipped. */
export function parseRows(text: string): AuditRow[] {
  const rows: AuditRow[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      rows.push(JSON.parse(line) as AuditRow);
    } catch {
      // A line without its newline was cut short by a crash mid-append: it was never acknowledged.
    }
  }
  return rows;
}

/** No spool file: it never existed, or its directory cannot exist (a file stands in its way). */
const absent = (err: unknown): boolean =>
  ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close().catch(() => undefined);
}

/** fsyncs a directory, so a file created or renamed in it stays after a crash. */
export function syncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems cannot fsync a directory; the file itself was synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
