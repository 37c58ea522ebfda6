import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource, EntityManager } from 'typeorm';

/** Drivers whose pool gives each transaction a connection of its own: nothing to serialise. */
const POOLED_DRIVERS: ReadonlySet<string> = new Set(['postgres']);

/** A standalone write or a nested transaction was started inside the open transaction it would wait for. */
export class WriteGateMisuseError extends Error {
  override name = 'WriteGateMisuseError';
}

interface Waiter {
  /** Set for a transaction (exclusive); absent for a standalone write (shared). */
  tx?: object;
  go: () => void;
}

/**
 * Keeps transactions and standalone writes apart on SQLite.
 *
 * TypeORM drives SQLite through one connection (one QueryRunner per
 * DataSource), and a transaction is a state of that connection: any other
 * statement issued while it is open (another request's INSERT, a background
 * flush) runs inside it, so it is rolled back with it or committed by it;
 * a second transaction becomes a SAVEPOINT of the first. The gate is a
 * readers-writer lock in process memory: a transaction is exclusive,
 * standalone writes are shared (each is its own autocommit statement and may
 * run beside the others). New writes queue behind a waiting transaction, so
 * transactions are not starved. On PostgreSQL both methods pass straight
 * through.
 *
 * Cost when no transaction is open or waiting: a counter and a `finally`; no
 * extra database round trip, no timer.
 *
 * Rules: every transaction goes through `transaction` (or `runInTransaction`),
 * and every write outside a transaction through `write`; inside a
 * transaction, write through its EntityManager. Starting a standalone write
 * or another transaction from inside an open one would wait for itself, so it
 * fails at once with WriteGateMisuseError instead of hanging. Reads are not
 * gated (on SQLite they can see a transaction's uncommitted rows).
 */
export class DatabaseWriteGate {
  private static readonly gates = new WeakMap<DataSource, DatabaseWriteGate>();

  /** The one gate of `dataSource` (created on first use). */
  static of(dataSource: DataSource): DatabaseWriteGate {
    let gate = DatabaseWriteGate.gates.get(dataSource);
    if (!gate) {
      gate = new DatabaseWriteGate(dataSource);
      DatabaseWriteGate.gates.set(dataSource, gate);
    }
    return gate;
  }

  /** False on PostgreSQL, where the gate passes everything through. */
  readonly serialises: boolean;
  private readonly scope = new AsyncLocalStorage<object>();
  private writes = 0;
  private openTx: object | null = null;
  private readonly queue: Waiter[] = [];

  private constructor(private readonly dataSource: DataSource) {
    this.serialises = !POOLED_DRIVERS.has(dataSource.options.type);
  }

  /** True while a transaction holds the gate (always false on PostgreSQL). */
  get transactionOpen(): boolean {
    return this.openTx !== null;
  }

  /** Runs `work` in a database transaction; on SQLite, alone (no standalone write runs meanwhile). */
  transaction<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    if (!this.serialises) return this.dataSource.transaction(work);
    if (this.insideOpenTransaction()) {
      return Promise.reject(
        new WriteGateMisuseError(
          'A transaction cannot start inside another one; pass its EntityManager instead',
        ),
      );
    }
    const token = {};
    let acquired: Promise<void>;
    if (this.openTx === null && this.writes === 0 && this.queue.length === 0) {
      this.openTx = token;
      acquired = Promise.resolve();
    } else {
      acquired = new Promise<void>((go) => this.queue.push({ tx: token, go }));
    }
    return acquired
      .then(() => this.scope.run(token, () => this.dataSource.transaction(work)))
      .finally(() => {
        this.openTx = null;
        this.dispatch();
      });
  }

  /** Runs a write outside any transaction; on SQLite it waits while a transaction is open or waiting. */
  write<T>(work: () => Promise<T>): Promise<T> {
    if (!this.serialises) return work();
    if (this.openTx === null && this.queue.length === 0) {
      this.writes++;
      return this.runWrite(work);
    }
    if (this.insideOpenTransaction()) {
      return Promise.reject(
        new WriteGateMisuseError(
          'A standalone write cannot wait for the transaction it runs in; use its EntityManager',
        ),
      );
    }
    return new Promise<void>((go) => this.queue.push({ go })).then(() => this.runWrite(work));
  }

  /** `work` with the write already counted; uncounts it when it settles. */
  private runWrite<T>(work: () => Promise<T>): Promise<T> {
    let running: Promise<T>;
    try {
      running = work();
    } catch (err) {
      running = Promise.reject(err);
    }
    return running.finally(() => {
      if (--this.writes === 0) this.dispatch();
    });
  }

  /** Lets waiters in, in order: shared writes together, a transaction once nothing else runs. */
  private dispatch(): void {
    while (this.openTx === null && this.queue.length > 0) {
      const next = this.queue[0];
      if (next.tx) {
        if (this.writes > 0) return;
        this.queue.shift();
        this.openTx = next.tx;
        next.go();
        return;
      }
      this.queue.shift();
      this.writes++;
      next.go();
    }
  }

  private insideOpenTransaction(): boolean {
    return this.openTx !== null && this.scope.getStore() === this.openTx;
  }
}

/** `DatabaseWriteGate.of(dataSource).transaction(work)`: how every transaction in the code base starts. */
export function runInTransaction<T>(
  dataSource: DataSource,
  work: (tx: EntityManager) => Promise<T>,
): Promise<T> {
  return DatabaseWriteGate.of(dataSource).transaction(work);
}

/** `DatabaseWriteGate.of(dataSource).write(work)`: a write outside any transaction. */
export function runStandaloneWrite<T>(dataSource: DataSource, work: () => Promise<T>): Promise<T> {
  return DatabaseWriteGate.of(dataSource).write(work);
}
