import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { withDeadline } from '../common/deadline';
import { DatabaseWriteGate } from '../database/database-write-gate';
import type { MetricsService } from '../metrics/metrics.service';
import { AuditJournal, DEFAULT_JOURNAL_LIMITS } from './audit-journal';
import type { AuditRow } from './audit-record';
import { AuditSpool } from './audit-spool';
import { insertAuditRows, SQLITE_ROWS_PER_STATEMENT } from './audit-sql';
import type { AuditOptions } from './audit.options';

/** Counters for metrics (`audit_queue_depth`, `audit_spooled_total`, `audit_write_failures_total`) and tests. */
export interface AuditWriterStats {
  /** Multi-row INSERT batches the database accepted. */
  batches: number;
  rowsWritten: number;
  spooledBatches: number;
  spooledRows: number;
  replayedRows: number;
  /** Batches appended to the local journal (AUDIT_DURABILITY=journal), one fdatasync each. */
  journalAppends: number;
  /** Rows appended to the journal, and rows shipped from it to the database. */
  journaledRows: number;
  /**
   * Batches (and their rows) answered from the journal because the database was slow (`hedgeAfterMs`):
   * hedged while their INSERT was in flight, or journaled instead while an earlier hedge was being shipped.
   */
  hedgedBatches: number;
  hedgedRows: number;
  shippedRows: number;
  /** Batches the database refused (they went to the spool, or failed). */
  writeFailures: number;
  /** Records refused with AuditUnavailableError (neither database nor spool). */
  unavailableRows: number;
  /** Scheduled replays not tried because the database did not answer a probe first. */
  replayProbesFailed: number;
}

/**
 * Where the AuditWriter's batches become durable: the database, or, once the
 * database has refused a batch, the spool file (`audit-spool.ndjson` in
 * DATA_DIR, appended and fsync'd). From that refusal on every batch goes to
 * the spool, in order, until a replay has inserted the whole spool with
 * ON CONFLICT DO NOTHING / INSERT OR IGNORE on (writer_id, seq) and emptied
 * it; a replay repeated after a crash therefore adds nothing twice. Spool
 * access is locked across processes (see AuditSpool).
 *
 * The writer runs `replay` only when no `write` is in flight (its drain
 * loop asks `takeReplayDue()` between batches); several writes may be in
 * flight at once, each batch on a chain of its own. A failed replay is
 * retried with backoff (from `replayBaseDelayMs`); when one is due, `wake`
 * is called so the writer drains even when no record arrives.
 *
 * With `durability: 'journal'` a batch is durable once appended to the
 * local AuditJournal (synchronously, fdatasync'd); a ship loop inserts the
 * journal into the database every `journalShipIntervalMs`, with the same
 * backoff as replays while the database refuses. A batch the journal cannot
 * take is written to the database directly, and refused only when that
 * fails too. Journals left by processes that are gone are shipped at boot.
 *
 * With `hedgeAfterMs` (database durability, sync mode), the writer calls
 * `hedge` for a batch whose database write has not returned in time: the
 * batch is appended to the same kind of local journal, durable there, and
 * shipped by the same loop (a no-op for the rows whose own INSERT has
 * committed meanwhile: ON CONFLICT DO NOTHING on (writer_id, seq)).
 *
 * Database writes go through the DatabaseWriteGate: on SQLite they wait
 * while an admin transaction is open on the shared connection instead of
 * joining it.
 */
export class AuditSink {
  // Lines keep the writer's context: the sink is the writer's durable half.
  private readonly logger = new Logger('AuditWriter');
  readonly spool: AuditSpool;
  /**
   * The local journal: where batches become durable with `durability:
   * 'journal'`, where slow ones go when hedging, and in every case the
   * owner of the orphan segments shipped at boot (a process that journaled
   * and died; the setting may have changed since). Created lazily on disk.
   */
  readonly journal: AuditJournal;
  private readonly gate: DatabaseWriteGate;
  private spooling = false;
  /** Set by a hedge: batches go to the journal until the ship loop has emptied it (see `hedge`). */
  private journaling = false;
  private replayDue = false;
  private replayTimer?: NodeJS.Timeout;
  private replayAttempts = 0;
  private shipTimer?: NodeJS.Timeout;
  private shipping?: Promise<void>;
  /** How to end each write in flight early, should the process begin to stop (`cutWrites`). */
  private readonly cuts = new Set<(afterMs: number) => void>();
  private shipAttempts = 0;
  private recoverPending = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly options: AuditOptions,
    private readonly stats: AuditWriterStats,
    private readonly wake: () => void,
    private readonly metrics?: MetricsService,
    /** How long a write may wait, given its own bound: shorter once the process is stopping (ShutdownClock). */
    private readonly allow: (capMs: number) => number = (capMs) => capMs,
  ) {
    this.spool = new AuditSpool(options.spoolDir);
    this.gate = DatabaseWriteGate.of(dataSource);
    this.journal = new AuditJournal(options.spoolDir, {
      ...DEFAULT_JOURNAL_LIMITS,
      segmentBytes: options.journalSegmentBytes,
      maxQueuedRows: options.journalMaxQueuedRows,
    });
  }

  /** True while batches go to the spool because the database refused one. */
  get isSpooling(): boolean {
    return this.spooling;
  }

  /** Whether slow database writes are hedged to the local journal (`hedgeAfterMs`, database durability, sync mode). */
  get hedges(): boolean {
    return (
      this.options.hedgeAfterMs > 0 && this.options.durability === 'database' && this.options.mode === 'sync'
    );
  }

  /** True while batches go to the journal because a database write was slow (hedging), until it is shipped. */
  get isJournaling(): boolean {
    return this.journaling;
  }

  /**
   * Appends a batch whose database write is still in flight to the local
   * journal (synchronously, fdatasync'd) and schedules its shipping; true
   * once it is durable there, false when the journal refused it (the batch
   * then waits for its database write as before).
   *
   * From then on every batch goes to the journal (`write`) until the ship
   * loop has emptied it: the database is slow now, and a batch written to it
   * directly could commit before an earlier one of its chain still waiting in
   * the journal. The ship inserts in append order, and its INSERT of a row
   * whose own INSERT is still in flight waits for that one to commit or roll
   * back (the unique key on (writer_id, seq)), so once the journal is empty
   * every journaled row is settled and direct writes resume in chain order.
   */
  hedge(rows: readonly AuditRow[], canonical: readonly string[]): boolean {
    if (!this.hedges || !this.toJournal(rows, canonical)) return false;
    this.journaling = true;
    return true;
  }

  /** A hedged or journaling-state append; false (logged) when the journal refused it. */
  private toJournal(rows: readonly AuditRow[], canonical: readonly string[]): boolean {
    try {
      this.journal.appendSync(rows, canonical);
    } catch (err) {
      this.logger.warn(
        `Audit batch of ${rows.length} could not be journaled while the database is slow (${describe(err)})`,
      );
      return false;
    }
    this.stats.hedgedBatches++;
    this.stats.hedgedRows += rows.length;
    this.metrics?.auditHedged(rows.length);
    this.scheduleShip(this.options.journalShipIntervalMs);
    return true;
  }

  /**
   * Writes one sealed batch (`canonical[i]` is canonicalRow(rows[i])) to the
   * database, or to the spool while spooling or when the database refuses it.
   * Resolves true once it is durable, false when it could be written nowhere.
   *
   * Several batches may be written at once (the writer's `batchesInFlight`,
   * each on a chain of its own); their spool appends take turns on the
   * spool's lock, as those of two processes do.
   */
  async write(rows: readonly AuditRow[], canonical: readonly string[]): Promise<boolean> {
    if (this.options.durability === 'journal') {
      try {
        this.journal.appendSync(rows, canonical);
        this.stats.journalAppends++;
        this.stats.journaledRows += rows.length;
        this.scheduleShip(this.options.journalShipIntervalMs);
        return true;
      } catch (err) {
        this.logger.error(
          `Audit batch of ${rows.length} could not be written to the journal (${describe(err)}); writing it to the database`,
        );
      }
    }
    if (this.journaling && !this.spooling && this.toJournal(rows, canonical)) return true;
    if (!this.spooling && (await this.toDatabase(rows, canonical))) return true;
    return this.toSpool(rows);
  }

  private async toDatabase(rows: readonly AuditRow[], canonical: readonly string[]): Promise<boolean> {
    try {
      // Hedging: the journal's ship may have stored this batch first (its own INSERT was slow to start).
      await this.insert(rows, this.hedges, canonical);
      this.stats.batches++;
      this.stats.rowsWritten += rows.length;
      return true;
    } catch (err) {
      this.stats.writeFailures++;
      this.metrics?.auditWriteFailure(1);
      this.logger.warn(
        `Audit batch of ${rows.length} could not be written to the database (${describe(err)}); spooling`,
      );
      this.spooling = true;
      this.scheduleReplay();
      return false;
    }
  }

  private async toSpool(rows: readonly AuditRow[]): Promise<boolean> {
    try {
      await this.spool.append(rows);
      this.stats.spooledBatches++;
      this.stats.spooledRows += rows.length;
      this.metrics?.auditSpooled(rows.length);
      return true;
    } catch (err) {
      this.logger.error(
        `Audit batch of ${rows.length} could not be spooled either (${describe(err)}); refusing its calls`,
      );
      return false;
    }
  }

  /**
   * A spool left by an earlier process (boot, `replayNow`): spool from now
   * on and replay at the next turn. Resolves false when there is nothing to replay.
   */
  async resumeLeftSpool(): Promise<boolean> {
    if ((await this.spool.size()) > 0) this.spooling = true;
    if (!this.spooling) return false;
    this.clearReplayTimer();
    this.replayDue = true;
    return true;
  }

  /** True once a replay is due; the caller then runs `replay()` before its next batch. */
  takeReplayDue(): boolean {
    const due = this.replayDue;
    this.replayDue = false;
    return due;
  }

  /**
   * Inserts the whole spool and empties it; on failure retries later
   * (backoff). A chunk the database refuses as data (not as unavailable) is
   * tried row by row, and the rows it still refuses are set aside
   * (AuditSpool.setAside, logged as an error) instead of holding every later
   * record in the spool for good.
   */
  async replay(): Promise<void> {
    try {
      const { rows, bytes } = await this.spool.snapshot();
      const refused: { rows: AuditRow[]; reason?: unknown } = { rows: [] };
      for (let i = 0; i < rows.length; i += this.options.batchMaxRows) {
        const chunk = rows.slice(i, i + this.options.batchMaxRows);
        try {
          await this.insert(chunk, true);
        } catch (err) {
          if (!isDataError(err)) throw err;
          for (const row of chunk) {
            try {
              await this.insert([row], true);
            } catch (rowErr) {
              if (!isDataError(rowErr)) throw rowErr;
              refused.rows.push(row);
              refused.reason ??= rowErr;
            }
          }
        }
      }
      if (refused.rows.length > 0) {
        await this.spool.setAside(refused.rows);
        this.logger.error(
          `The database refused ${refused.rows.length} spooled audit record(s) as data (${describe(refused.reason)}); ` +
            `kept in ${this.spool.refusedPath}, not in the table (audit verify names the gap they leave)`,
        );
      }
      await this.spool.consume(bytes);
      this.stats.replayedRows += rows.length;
      this.spooling = false;
      this.replayAttempts = 0;
      if (rows.length > 0) this.logger.log(`Replayed ${rows.length} spooled audit records into the database`);
    } catch (err) {
      this.replayAttempts++;
      this.logger.warn(`Audit spool replay failed (${describe(err)}); retrying`);
      this.scheduleReplay();
    }
  }

  /** Boot: journals left by processes that are gone are shipped first, by the ship loop (so retried with it). */
  recoverJournals(): void {
    this.recoverPending = true;
    this.scheduleShip(0);
  }

  /** Ships what the journal holds now (waiting for a ship in progress); false when the database refused. */
  async shipNow(): Promise<boolean> {
    if (this.shipTimer) clearTimeout(this.shipTimer);
    this.shipTimer = undefined;
    await this.shipping;
    await this.ship();
    return this.journal.pendingRows === 0 && !this.recoverPending;
  }

  /**
   * Shutdown: one last ship, then the journal is closed. Whatever the
   * database did not take stays in DATA_DIR for the next process.
   */
  async closeJournal(): Promise<void> {
    const shipped = this.dataSource.isInitialized && (await this.shipNow());
    if (!shipped && this.journal.pendingRows > 0)
      this.logger.warn(
        `${this.journal.pendingRows} audit records stay in ${this.journal.dir}; the next start ships them`,
      );
    if (this.shipTimer) clearTimeout(this.shipTimer);
    this.shipTimer = undefined;
    this.journal.close();
  }

  private scheduleShip(delay: number): void {
    if (this.shipTimer || this.shipping) return;
    this.shipTimer = setTimeout(() => {
      this.shipTimer = undefined;
      void this.ship();
    }, delay);
    this.shipTimer.unref();
  }

  private ship(): Promise<void> {
    if (this.shipping) return this.shipping;
    const journal = this.journal;
    this.shipping = (async () => {
      try {
        if (this.recoverPending) {
          const rows = await journal.recoverOrphans(
            (chunk) => this.insert(chunk, true),
            this.options.batchMaxRows,
          );
          this.recoverPending = false;
          this.stats.shippedRows += rows;
          if (rows > 0)
            this.logger.warn(`Shipped ${rows} audit records left in the journal by an earlier process`);
        }
        this.stats.shippedRows += await journal.ship(
          (chunk, canonical) => this.insert(chunk, true, canonical),
          this.options.batchMaxRows,
        );
        if (this.shipAttempts > 0) this.logger.log('The audit journal ships to the database again');
        this.shipAttempts = 0;
        // Every journaled row is stored (and any INSERT of one still in flight settled): write directly again.
        if (journal.pendingRows === 0) this.journaling = false;
      } catch (err) {
        this.stats.writeFailures++;
        this.metrics?.auditWriteFailure(1);
        if (this.shipAttempts === 0)
          this.logger.warn(`Audit journal could not be shipped to the database (${describe(err)}); retrying`);
        this.shipAttempts++;
      } finally {
        this.shipping = undefined;
      }
      if (journal.pendingRows > 0 || this.recoverPending) {
        this.scheduleShip(
          this.shipAttempts === 0
            ? this.options.journalShipIntervalMs
            : replayDelayMs(this.shipAttempts - 1, this.options),
        );
      }
    })();
    return this.shipping;
  }

  clearReplayTimer(): void {
    if (this.replayTimer) clearTimeout(this.replayTimer);
    this.replayTimer = undefined;
  }

  /**
   * A batch outside any transaction, through the write gate; rejects with
   * AuditWriteTimeoutError once it has taken `writeTimeoutMs` (it may still
   * commit later: every path that writes these rows again skips duplicates).
   * During a stop the bound is what the stop's deadline leaves, so its
   * records reach the spool in time rather than wait out the full timeout.
   */
  private insert(
    rows: readonly AuditRow[],
    ignoreDuplicates = false,
    canonical?: readonly string[],
  ): Promise<void> {
    const write =
      this.gate.serialises && rows.length > SQLITE_ROWS_PER_STATEMENT
        ? this.gate.transaction((tx) => insertAuditRows(tx, rows, ignoreDuplicates, canonical))
        : this.gate.write(() => insertAuditRows(this.dataSource, rows, ignoreDuplicates, canonical));
    const ms = this.allow(this.options.writeTimeoutMs);
    let cut!: (afterMs: number) => void;
    const cutShort = new Promise<never>((_, reject) => {
      cut = (afterMs) => setTimeout(() => reject(new AuditWriteTimeoutError(afterMs)), afterMs).unref();
    });
    this.cuts.add(cut);
    return withDeadline(Promise.race([write, cutShort]), ms, () => new AuditWriteTimeoutError(ms)).finally(
      () => this.cuts.delete(cut),
    );
  }

  /**
   * The process began to stop: writes in flight give up within `ms` (their
   * batches then go to the spool), not at the end of a write timeout begun
   * before the signal.
   */
  cutWrites(ms: number): void {
    for (const cut of this.cuts) cut(ms);
  }

  /**
   * A replay runs in the writer's drain loop, which waits for it; so it is
   * only asked for once the database answers a probe, made beside the calls.
   * Against a database that swallows packets, a replay itself would hold
   * every call for the write timeout each time it was tried.
   */
  private scheduleReplay(): void {
    if (this.replayTimer) return;
    const delay = replayDelayMs(this.replayAttempts, this.options);
    this.replayTimer = setTimeout(() => void this.probeThenReplay(), delay);
    this.replayTimer.unref();
  }

  private async probeThenReplay(): Promise<void> {
    try {
      const ms = this.options.writeTimeoutMs;
      await withDeadline(this.dataSource.query('SELECT 1'), ms, () => new AuditWriteTimeoutError(ms));
    } catch {
      this.replayTimer = undefined;
      this.replayAttempts++;
      this.stats.replayProbesFailed++;
      this.scheduleReplay();
      return;
    }
    this.replayTimer = undefined;
    this.replayDue = true;
    this.wake();
  }
}

/**
 * Whether the database refused a write for what it holds rather than for
 * being unavailable: PostgreSQL's data exceptions (SQLSTATE class 22, e.g. a
 * value it cannot parse), SQLite's value too big or of the wrong type. Such
 * a row fails the same way however often it is retried.
 */
export function isDataError(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | undefined;
  const code = e?.driverError?.code ?? e?.code;
  return (
    typeof code === 'string' &&
    (/^22[0-9A-Z]{3}$/.test(code) || code === 'SQLITE_TOOBIG' || code === 'SQLITE_MISMATCH')
  );
}

/** The wait before the next replay after `failures` refused ones: doubling from the base, capped. */
export function replayDelayMs(
  failures: number,
  {
    replayBaseDelayMs: base,
    replayMaxDelayMs: max,
  }: Pick<AuditOptions, 'replayBaseDelayMs' | 'replayMaxDelayMs'>,
): number {
  return Math.min(max, base * 2 ** Math.min(failures, 20));
}

/** An audit INSERT that did not return within `writeTimeoutMs`. */
export class AuditWriteTimeoutError extends Error {
  override name = 'AuditWriteTimeoutError';
  constructor(ms: number) {
    super(`audit write took over ${ms} ms`);
  }
}

/**
 * Why a write failed, for the operator, in one line without hosts or ports:
 * - the database refused it (a SQLSTATE from PostgreSQL, a SQLITE_ code): the
 *   class, the code and its reason ("permission denied for table audit_logs");
 * - a system error (ECONNREFUSED): the class, the code and the call;
 * - anything else ("Connection terminated unexpectedly", a write timeout):
 *   the class and the message, any address in it replaced.
 * Reasons are cut at 200 characters.
 */
export function describe(err: unknown): string {
  const e = (err ?? {}) as { name?: string; code?: unknown; message?: unknown; driverError?: unknown };
  const driver = (e.driverError ?? e) as { code?: unknown; message?: unknown; syscall?: unknown };
  const code =
    typeof driver.code === 'string' ? driver.code : typeof e.code === 'string' ? e.code : undefined;
  const head = [e.name ?? 'Error', code].filter(Boolean).join(' ');
  if (code !== undefined && !/^[0-9A-Z]{5}$/.test(code) && !code.startsWith('SQLITE_'))
    return typeof driver.syscall === 'string' ? `${head} (${driver.syscall})` : head;
  if (typeof driver.message !== 'string' || driver.message === '') return head;
  // Cut before the replace (bounded runs too): the address pattern rescans from each word boundary.
  const reason = driver.message
    .slice(0, 1000)
    .replace(
      /\[[0-9a-f:.]{1,45}\](:\d+)?|\b\d{1,3}(\.\d{1,3}){3}(:\d+)?|\b[\w.-]{1,253}:\d{2,5}\b/gi,
      '(address)',
    )
    .replace(/\s+/g, ' ')
    .trim();
  return `${head}: ${reason.length > 200 ? `${reason.slice(0, 200)}...` : reason}`;
}
