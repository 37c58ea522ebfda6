import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ShutdownClock } from '../common/shutdown-clock';
import { MetricsService } from '../metrics/metrics.service';
import { RequestContext } from '../observability/request-context';
import { AuditChain, chainRows, newAuditChain } from './audit-chain';
import type { AuditJournal } from './audit-journal';
import { AuditRecord, AuditRow } from './audit-record';
import { toAuditRow } from './audit-row';
import { AuditRequestContext } from './audit-request-context';
import { AuditSink, AuditWriterStats } from './audit-sink';
import { insertAuditRows } from './audit-sql';
import { AUDIT_OPTIONS, AuditOptions } from './audit.options';
import { AuditUnavailableError } from './audit.errors';

interface Waiter {
  /** Its chain fields (writerId, seq, prevHash, hash) are set only when its batch is sealed. */
  row: AuditRow;
  /** performance.now() when it was queued (for `audit_durable_seconds`). */
  queuedAt: number;
  resolve: () => void;
  reject: (err: Error) => void;
}
/** A batch with its chain positions and hashes: `canonical[i]` is the canonicalRow text of `rows[i]`. */
interface Sealed {
  waiters: Waiter[];
  rows: AuditRow[];
  canonical: string[];
  chain: AuditChain;
}
/** A sealed batch being written, on write slot `slot` (whose chain it is sealed on). */
interface InFlight {
  batch: Sealed;
  slot: number;
  /** Settles (never rejects) once the batch is durable (true) or refused (false); its callers are answered then. */
  done: Promise<boolean>;
}

export type { AuditWriterStats } from './audit-sink';

const noop = () => undefined;

/**
 * Writes audit records with group commit. Records of concurrent callers are
 * collected for `batchWindowMs` (or until `batchMaxRows`) and written in one
 * multi-row INSERT. Up to `batchesInFlight` batches (default 2) are written
 * at once, each on a write slot of its own: records that arrive while a
 * batch is being written form the next batch at the end of their event-loop
 * turn and go at once on a free slot (another connection) instead of waiting
 * for the write before them to return; a call then waits for one commit,
 * not for the rest of another's and then its own. With every slot busy they
 * gather until a write returns.
 *
 * Hash chains: each write slot writes as a writer of its own (`writerIds`,
 * UUIDs) whose rows carry `seq` 1, 2, ... and `prev_hash` = the hash of the
 * row before; `hash` = SHA-256(prev_hash || canonical row). A slot writes
 * one batch at a time, so each chain is committed in chain order and the
 * table verifies at every instant: batches in flight together are on
 * different chains, and a crash that lands one and not the other leaves
 * each chain ending cleanly, never a hole `audit verify` would report as
 * tampering. If a batch can be written neither to the database nor to the
 * spool, its callers get AuditUnavailableError and its slot starts a new
 * chain (new writer id): the old chain simply ends.
 *
 * Durability is the AuditSink's: the database, else the fsync'd spool in
 * DATA_DIR (which counts as durable), replayed into the database in the
 * background; or, with `durability: 'journal'`, the local journal shipped to
 * the database in the background; see there. A spool left by an earlier process is replayed at
 * boot (unless `replaySpoolOnBoot` is off, as in the command line), and so
 * are the journals of processes that are gone, whatever the durability.
 *
 * Hedging (`hedgeAfterMs` > 0, database durability, sync mode): a batch
 * whose database write has not returned after that long is also appended
 * to the local journal, and its callers are answered as soon as either
 * holds it; until the journal is shipped, later batches go to the journal
 * too (AuditSink.hedge says why), so a slow database holds no caller for
 * longer than about `hedgeAfterMs` plus one local flush.
 *
 * Admin actions: `recordInTransaction` (see there) writes in the caller's transaction.
 *
 * Metrics (when MetricsModule is loaded): `audit_queue_depth` is read from
 * `queueDepth` at each scrape; `audit_write_failures_total` and
 * `audit_spooled_total` move where `stats.writeFailures` and
 * `stats.spooledRows` do; `audit_journal_pending` is read from the journal
 * at each scrape; `audit_durable_seconds` observes each record's
 * time from `record()` to durable (in sync mode, its caller's wait).
 */
@Injectable()
export class AuditWriter
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger(AuditWriter.name);
  private readonly sink: AuditSink;
  /** The chain of each write slot (a slot is busy while a batch of `inFlight` holds it). */
  private readonly chains: AuditChain[];
  private pending: Waiter[] = [];
  private readonly inFlight = new Set<InFlight>();
  private windowTimer?: NodeJS.Timeout;
  private turnEnd?: NodeJS.Immediate;
  private busy = false;
  /** Set while the drain loop waits for a free slot or new records; called when either comes. */
  private wakeDrain?: () => void;
  private idle: Array<() => void> = [];
  private readonly txChains = new WeakMap<EntityManager, AuditChain>();
  readonly stats: AuditWriterStats = {
    batches: 0,
    rowsWritten: 0,
    spooledBatches: 0,
    spooledRows: 0,
    replayedRows: 0,
    journalAppends: 0,
    journaledRows: 0,
    hedgedBatches: 0,
    hedgedRows: 0,
    shippedRows: 0,
    writeFailures: 0,
    unavailableRows: 0,
    replayProbesFailed: 0,
  };

  constructor(
    private readonly dataSource: DataSource,
    @Inject(AUDIT_OPTIONS) readonly options: AuditOptions,
    @Optional() private readonly metrics?: MetricsService,
    @Optional() clock?: ShutdownClock,
  ) {
    this.sink = new AuditSink(
      dataSource,
      options,
      this.stats,
      () => void this.drain(),
      metrics,
      (ms) => (clock ? clock.allow(ms) : ms),
    );
    clock?.onStop(() => this.sink.cutWrites(clock.allow(options.writeTimeoutMs)));
    this.chains = Array.from({ length: options.batchesInFlight }, () => newAuditChain());
  }

  onModuleInit(): void {
    this.metrics?.auditQueueDepthFrom(() => this.queueDepth);
    this.metrics?.auditJournalPendingFrom(() => this.sink.journal.pendingRows);
  }

  /**
   * The chain id of the first write slot, the one an idle writer uses (it
   * changes only after a batch of that slot could be written nowhere).
   */
  get writerId(): string {
    return this.chains[0].writerId;
  }

  /** The chain ids of every write slot (`batchesInFlight` of them). */
  get writerIds(): string[] {
    return this.chains.map((c) => c.writerId);
  }

  /** Records waiting for their batch (not those being written). */
  get queueDepth(): number {
    return this.pending.length;
  }

  /** No record waits for its batch and none is being written: whatever was recorded is durable (or refused). */
  get settled(): boolean {
    return !this.busy && this.pending.length === 0 && this.inFlight.size === 0;
  }

  /** True while batches go to the spool because the database refused one. */
  get isSpooling(): boolean {
    return this.sink.isSpooling;
  }

  /** True while batches go to the local journal because a database write was slow (hedging). */
  get isJournaling(): boolean {
    return this.sink.isJournaling;
  }

  get spoolPath(): string {
    return this.sink.spool.path;
  }

  /** The local journal (AUDIT_DURABILITY=journal, hedged batches, orphans shipped at boot). */
  get journal(): AuditJournal {
    return this.sink.journal;
  }

  /** Ships the journal to the database now (tests, shutdown); true when nothing is left in it. */
  shipJournal(): Promise<boolean> {
    return this.sink.shipNow();
  }

  /**
   * Queues a record for the next batch. In `sync` mode resolves once it is
   * durable and rejects with AuditUnavailableError when it cannot be; in
   * `async` mode resolves at once (a failure is only logged and counted).
   */
  record(rec: AuditRecord): Promise<void> {
    let row: AuditRow;
    try {
      row = toAuditRow(rec, this.options.storeArgs);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.options.mode === 'async') {
      this.enqueue({ row, queuedAt: performance.now(), resolve: noop, reject: noop });
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) =>
      this.enqueue({ row, queuedAt: performance.now(), resolve, reject }),
    );
  }

  /**
   * Writes a record inside the caller's transaction (admin actions: the
   * change and its audit row commit or roll back together). Such rows do not
   * join the group-commit chain, whose position is only known when a batch is
   * sealed: each transaction gets its own chain (a fresh writer id, seq 1, 2,
   * ... for the records of that transaction), so a rolled-back transaction
   * leaves no hole in any chain. `audit verify` checks these chains like any
   * other; what it cannot see is the removal of a whole transaction's rows.
   * Fields the record leaves out (ip, user agent, request id, principal) come
   * from the current request; the AuditInterceptor then adds no second row.
   */
  async recordInTransaction(manager: EntityManager, rec: AuditRecord): Promise<void> {
    const scope = AuditRequestContext.current();
    const chain = this.txChains.get(manager) ?? newAuditChain();
    const row = toAuditRow(rec, this.options.storeArgs);
    const canonical = chainRows(chain, [row]);
    await insertAuditRows(manager, [row], false, canonical);
    this.txChains.set(manager, chain);
    if (scope) scope.recordedInTransaction = true;
  }

  /** Resolves once every record queued so far is durable (or refused). */
  flush(): Promise<void> {
    if (!this.busy && this.pending.length === 0) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.idle.push(resolve));
    void this.drain();
    return done;
  }

  /** Replays the spool now (tests, CLI); resolves true when it is empty afterwards. */
  async replayNow(): Promise<boolean> {
    if (!(await this.sink.resumeLeftSpool())) return true;
    await new Promise<void>((resolve) => {
      this.idle.push(resolve);
      void this.drain();
    });
    return !this.sink.isSpooling;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.replaySpoolOnBoot === false) return;
    // In the background: the server answers while a large journal left by a crash is shipped.
    this.sink.recoverJournals();
    if (!(await this.sink.resumeLeftSpool().catch(() => false))) return;
    this.logger.warn('Found an audit spool from an earlier run; replaying it into the database');
    void this.drain();
  }

  /** SIGTERM: everything pending is written before the data source closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
    await this.sink.shipNow(); // while the database is still open (journal durability)
  }

  /** Records that arrived after the first flush (late in-flight calls) go too, to the spool if need be. */
  async onApplicationShutdown(): Promise<void> {
    this.sink.clearReplayTimer();
    await this.flush();
    await this.sink.closeJournal();
  }

  private enqueue(waiter: Waiter): void {
    this.pending.push(waiter);
    if (this.busy) {
      // The running drain sends it when a write slot is free: at once once the batch is full, else
      // at the end of this turn, so the records of every call that gets here in this turn share it.
      if (this.pending.length >= this.options.batchMaxRows) this.wakeDrain?.();
      else this.turnEnd ??= setImmediate(this.endOfTurn);
      return;
    }
    if (this.pending.length >= this.options.batchMaxRows) {
      void this.drain();
    } else if (this.options.batchWindowMs <= 0) {
      // Window 0 ends with this event-loop turn: every call that reached its audit in the same turn
      // shares one write (one fdatasync with the journal, which blocks the loop while it runs).
      this.turnEnd ??= setImmediate(this.endOfTurn);
    } else if (!this.windowTimer) {
      this.windowTimer = setTimeout(() => {
        this.windowTimer = undefined;
        void this.drain();
      }, this.options.batchWindowMs);
    }
  }

  private readonly endOfTurn = (): void => {
    this.turnEnd = undefined;
    if (this.busy) this.wakeDrain?.();
    else void this.drain();
  };

  private async drain(): Promise<void> {
    // Batches serve every request that joined them: none of their logs, retries or timers are one request's.
    if (RequestContext.current()) return RequestContext.outside(() => this.drain());
    if (this.busy) return;
    this.busy = true;
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    if (this.turnEnd) clearImmediate(this.turnEnd);
    this.turnEnd = undefined;
    try {
      for (;;) {
        if (this.sink.takeReplayDue()) {
          // The spool is replayed and emptied with no write in flight (none can append to it meanwhile).
          await Promise.all([...this.inFlight].map((f) => f.done));
          await this.sink.replay();
          continue;
        }
        if (this.pending.length > 0 && this.inFlight.size < this.options.batchesInFlight) {
          this.send(this.take());
          await nextTurn(); // the batch's INSERT goes out before the CPU work of sealing the next
          continue;
        }
        if (this.inFlight.size === 0) break;
        // Records arriving from now on (at the end of their turn), or a write returning, wake the loop.
        await new Promise<void>((resolve) => (this.wakeDrain = resolve));
        this.wakeDrain = undefined;
      }
    } finally {
      this.wakeDrain = undefined;
      this.busy = false;
      const idle = this.idle;
      this.idle = [];
      for (const resolve of idle) resolve();
    }
  }

  /** Seals a batch on the chain of a free write slot and starts writing it. */
  private send(waiters: Waiter[]): void {
    const taken = new Set([...this.inFlight].map((f) => f.slot));
    const slot = this.chains.findIndex((_, i) => !taken.has(i));
    const flight: InFlight = { batch: this.seal(waiters, slot), slot, done: Promise.resolve(false) };
    flight.done = this.settle(flight).finally(() => {
      this.inFlight.delete(flight);
      this.wakeDrain?.();
    });
    this.inFlight.add(flight);
  }

  private take(): Waiter[] {
    const max = this.options.batchMaxRows;
    if (this.pending.length <= max) {
      const all = this.pending;
      this.pending = [];
      return all;
    }
    return this.pending.splice(0, max);
  }

  private seal(waiters: Waiter[], slot: number): Sealed {
    const rows = waiters.map((w) => w.row);
    const chain = this.chains[slot];
    return { waiters, rows, canonical: chainRows(chain, rows), chain };
  }

  /**
   * Writes a batch and answers its callers once it is durable, or refused;
   * never rejects. With hedging (`hedgeAfterMs`), a write still in flight
   * after that long is also journaled, and the callers are answered by
   * whichever of the two holds the batch first; the slot stays busy until
   * the database write returns, so its chain still commits in order.
   */
  private async settle({ batch: { waiters: batch, rows, canonical }, slot }: InFlight): Promise<boolean> {
    let answered = false;
    const answer = () => {
      if (answered) return;
      answered = true;
      for (const w of batch) w.resolve();
      const now = performance.now();
      this.metrics?.auditDurable(batch.map((w) => (now - w.queuedAt) / 1000));
    };
    const hedge = this.sink.hedges
      ? setTimeout(() => {
          if (this.sink.hedge(rows, canonical)) answer();
        }, this.options.hedgeAfterMs)
      : undefined;
    const durable = await this.sink.write(rows, canonical).catch((err: unknown) => {
      this.logger.error(`Audit batch write failed unexpectedly (${(err as Error)?.name ?? 'Error'})`);
      return false;
    });
    clearTimeout(hedge);
    // Refused by the database and the spool, but already journaled by the hedge: durable all the same.
    if (durable || answered) {
      answer();
      return true;
    }
    // Written nowhere: the slot starts a new chain, so the refused rows leave no hole (nothing after
    // them is on the old chain: a slot writes one batch at a time).
    this.chains[slot] = newAuditChain();
    this.stats.unavailableRows += batch.length;
    for (const w of batch) w.reject(new AuditUnavailableError());
    return false;
  }
}
