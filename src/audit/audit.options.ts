import { DEFAULT_SECURITY_EVENT_LIMITS, SecurityEventLimits } from './security-event.limiter';

/**
 * Settings of the audit writer. AuditModule takes them as a module option
 * (the lead maps them from AppConfig: `audit.mode`, `audit.storeArgs`,
 * `audit.batchWindowMs`, `audit.batchMaxRows`, `audit.batchesInFlight`); everything has a default.
 */
export interface AuditOptions {
  /**
   * `sync` (default): `record()` resolves once the record is durable (in the
   * database or fsync'd to the spool), so an answered call is an audited call.
   * `async`: `record()` resolves at once and the record joins the next batch;
   * faster, but records still queued are lost if the process is killed, and a
   * call is not refused when the audit trail cannot be written.
   */
  mode: 'sync' | 'async';
  /**
   * Where a batch becomes durable. `database` (default): in the database
   * (else the spool, while the database refuses writes). `journal`: in the
   * local write-ahead journal (DATA_DIR/audit-journal, fdatasync'd on the
   * event loop), shipped to the database in the background every
   * `journalShipIntervalMs`; a sync call then waits only for the local disk.
   * Needs DATA_DIR on a disk that outlives the process's machine: on an
   * ephemeral disk a crash loses the records not yet shipped. See AuditJournal.
   */
  durability: 'database' | 'journal';
  /**
   * Database durability, sync mode: a batch whose database write has not
   * returned after this many ms is also appended to the local journal
   * (fdatasync'd), and its calls are answered as soon as either holds it;
   * the journal's copy is shipped idempotently like any journaled row. This
   * bounds a call's audit wait by about this plus one local flush when a
   * commit is slow, at the price of the journal's trade-off for the records
   * answered that way until their commit lands. 0 turns it off (default).
   */
  hedgeAfterMs: number;
  /**
   * How long one audit INSERT (a batch, a replay or ship chunk) may take
   * before it counts as refused (ms, default 5,000): a database that hangs
   * (a network partition, a lock held on audit_logs) then sends batches to
   * the spool, as one that refuses does, instead of holding every call. The
   * INSERT is not cancelled; if it commits later, replay skips its rows.
   */
  writeTimeoutMs: number;
  /** How long journaled records gather before they are shipped to the database (ms, default 20). */
  journalShipIntervalMs: number;
  /** A new journal segment is started once the open one holds this many bytes (default 4 MiB). */
  journalSegmentBytes: number;
  /**
   * Journaled rows kept in memory for shipping (default 50,000); beyond it,
   * during a long database outage, shipping reads them back from the segments.
   */
  journalMaxQueuedRows: number;
  /** Also store the arguments, secrets redacted (default off: only the digest). */
  storeArgs: boolean;
  /**
   * How long the first record of a batch waits for others when the writer is
   * idle (ms). Default 0: an idle writer writes at the end of the current
   * event-loop turn (setImmediate), so the records of every call that got
   * there in the same turn share the write, and the records that arrive
   * while that write is in flight form the next batch (group commit whose
   * window is the write itself): a quiet server adds only one INSERT to a
   * call and a busy one still writes in large batches. A few ms trades that
   * latency for fewer, larger batches at moderate load.
   */
  batchWindowMs: number;
  /** A batch is written as soon as it holds this many records (default 500). */
  batchMaxRows: number;
  /**
   * How many batches may be written at once (default 2; 1 writes one batch
   * at a time). With 2, records that arrive while a batch is being committed
   * go at once on another connection instead of waiting for that commit
   * first, which takes most of the wait out of a sync call's tail. Each one
   * holds a database connection while it is written. SQLite writes one at a
   * time whatever it is.
   */
  batchesInFlight: number;
  /** Directory of the spool file `audit-spool.ndjson` (AppConfig.dataDir). */
  spoolDir: string;
  /** First delay before replaying the spool into the database; doubles up to `replayMaxDelayMs`. */
  replayBaseDelayMs: number;
  /**
   * The longest wait between replays while the database refuses them: after
   * an outage of any length, the spool reaches the table (and `GET
   * /admin/audit`) within this of the database's return. A refused replay is
   * one failed connect or INSERT, so a short cap costs next to nothing.
   */
  replayMaxDelayMs: number;
  /**
   * Replay a spool left in `spoolDir` by an earlier process when the
   * application starts (default true). The command line turns it off: a
   * server may be spooling into the same DATA_DIR at that very moment, and
   * the spool is that server's to replay.
   */
  replaySpoolOnBoot: boolean;
  /** How many security events are recorded one by one (SecurityEventRecorder); the rest are summarised. */
  securityEvents: SecurityEventLimits;
}

export const AUDIT_OPTIONS = Symbol('AUDIT_OPTIONS');

export const DEFAULT_AUDIT_OPTIONS: Omit<AuditOptions, 'spoolDir'> = {
  mode: 'sync',
  durability: 'database',
  hedgeAfterMs: 0,
  writeTimeoutMs: 5_000,
  journalShipIntervalMs: 20,
  journalSegmentBytes: 4 * 1024 * 1024,
  journalMaxQueuedRows: 50_000,
  storeArgs: false,
  batchWindowMs: 0,
  batchMaxRows: 500,
  batchesInFlight: 2,
  replayBaseDelayMs: 250,
  replayMaxDelayMs: 5_000,
  replaySpoolOnBoot: true,
  securityEvents: DEFAULT_SECURITY_EVENT_LIMITS,
};

export const SPOOL_FILE_NAME = 'audit-spool.ndjson';
/** Held (created with O_EXCL) by a process while it appends to, snapshots or cuts the spool. */
export const SPOOL_LOCK_FILE_NAME = 'audit-spool.lock';
/** Spooled rows the database refused as data (never replayed again), kept for an operator. */
export const SPOOL_REFUSED_FILE_NAME = 'audit-spool.refused.ndjson';

export function resolveAuditOptions(
  options: Partial<Omit<AuditOptions, 'securityEvents'>> & {
    spoolDir: string;
    securityEvents?: Partial<SecurityEventLimits>;
  },
): AuditOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o = { ...DEFAULT_AUDIT_OPTIONS, ...given } as AuditOptions;
  o.securityEvents = { ...DEFAULT_SECURITY_EVENT_LIMITS, ...options.securityEvents };
  for (const [name, v] of Object.entries(o.securityEvents)) {
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`audit securityEvents.${name} must be a positive integer`);
  }
  if (o.mode !== 'sync' && o.mode !== 'async') throw new RangeError("audit mode must be 'sync' or 'async'");
  if (o.durability !== 'database' && o.durability !== 'journal')
    throw new RangeError("audit durability must be 'database' or 'journal'");
  if (!(o.hedgeAfterMs >= 0)) throw new RangeError('audit hedgeAfterMs must be >= 0');
  if (!(o.writeTimeoutMs > 0)) throw new RangeError('audit writeTimeoutMs must be > 0');
  if (!(o.journalShipIntervalMs >= 0)) throw new RangeError('audit journalShipIntervalMs must be >= 0');
  for (const name of ['journalSegmentBytes', 'journalMaxQueuedRows'] as const) {
    if (!Number.isInteger(o[name]) || o[name] < 1)
      throw new RangeError(`audit ${name} must be a positive integer`);
  }
  if (!Number.isInteger(o.batchMaxRows) || o.batchMaxRows < 1)
    throw new RangeError('audit batchMaxRows must be a positive integer');
  if (!Number.isInteger(o.batchesInFlight) || o.batchesInFlight < 1)
    throw new RangeError('audit batchesInFlight must be a positive integer');
  if (!(o.batchWindowMs >= 0)) throw new RangeError('audit batchWindowMs must be >= 0');
  return o;
}
