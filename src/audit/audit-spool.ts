import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AuditRow } from './audit-record';
import { SPOOL_FILE_NAME } from './audit.options';

/**
 * The append-only spool the writer falls back to when the database cannot
 * be written: one JSON row per line (`audit-spool.ndjson` in DATA_DIR, mode
 * 0600). An append is fsync'd before it counts as durable; a failed append is
 * cut back to the previous size so a torn batch never stays in the file.
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

  constructor(dir: string) {
    this.path = join(dir, SPOOL_FILE_NAME);
  }

  /** Appends rows and fsyncs; throws SpoolWriteError if that fails (after trying to cut the file back). */
  async append(rows: readonly AuditRow[]): Promise<void> {
    const data = Buffer.from(rows.map((r) => JSON.stringify(r)).join('\n') + '\n', 'utf8');
    let handle: fs.FileHandle;
    let created: boolean;
    try {
      await fs.mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      created = !(await this.exists());
      handle = await fs.open(this.path, 'a', 0o600);
    } catch (err) {
      throw new SpoolWriteError(true, err); // nothing was written
    }
    let before = -1;
    try {
      before = (await handle.stat()).size;
      await handle.write(data);
      await handle.sync();
    } catch (err) {
      const clean = before >= 0 && (await handle.truncate(before).then(() => handle.sync()).then(() => true, () => false));
      await handle.close().catch(() => undefined);
      throw new SpoolWriteError(clean, err);
    }
    await handle.close().catch(() => undefined);
    if (created) await syncDir(dirname(this.path));
  }

  /** Every complete row in the spool, oldest first. A torn last line (never acknowledged) is skipped. */
  async read(): Promise<AuditRow[]> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (err) {
      if (absent(err)) return [];
      throw err;
    }
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

  async size(): Promise<number> {
    try {
      return (await fs.stat(this.path)).size;
    } catch (err) {
      if (absent(err)) return 0;
      throw err;
    }
  }

  /** Empties the spool (after a successful replay) and fsyncs; a spool that does not exist is empty. */
  async clear(): Promise<void> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.path, 'r+');
    } catch (err) {
      if (absent(err)) return;
      throw err;
    }
    try {
      await handle.truncate(0);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private async exists(): Promise<boolean> {
    return fs.stat(this.path).then(
      () => true,
      () => false,
    );
  }
}

/** No spool file: it never existed, or its directory cannot exist (a file stands in its way). */
const absent = (err: unknown): boolean => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close().catch(() => undefined);
}
