import { Client } from 'pg';

/** The error pg gives a query whose answer did not come within `query_timeout`. */
const READ_TIMEOUT = 'Query read timeout';

type Callback = (err: unknown, res: unknown) => void;
type ClientInternals = {
  connection?: { stream?: { destroy(): void } };
  /** Read by pg-pool on release: a client that is not queryable is removed, not kept idle. */
  _queryable: boolean;
  connectionParameters: { query_timeout?: number | false };
};

/**
 * The pg client the pool makes (TypeORM `extra.Client`).
 *
 * pg's own `query_timeout` gives up on a query whose answer never comes (a
 * network partition that drops packets instead of refusing them: no reset
 * arrives, and PostgreSQL's statement_timeout never sees a statement that
 * never reached it), but it leaves the connection waiting for that answer.
 * The pool then hands the connection out again and every later query on it
 * waits behind the lost one, each until its own timeout: one frozen
 * connection wedged the revoked-key reload, and with it every request and the
 * shutdown. Here a connection whose query timed out is destroyed on the spot,
 * so the pool opens a fresh one.
 */
export class BoundedPgClient extends Client {
  /**
   * Runs `work` with no client-side timeout on this connection: migrations
   * (an index build, the wait for another instance's migrations lock) may
   * take longer than any request should.
   */
  async withoutQueryTimeout<T>(work: () => Promise<T>): Promise<T> {
    const params = (this as unknown as ClientInternals).connectionParameters;
    const saved = params.query_timeout;
    params.query_timeout = false;
    try {
      return await work();
    } finally {
      params.query_timeout = saved;
    }
  }

  // pg's `query` has many overloads; this passes every form through unchanged.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const query = Client.prototype.query as (...a: unknown[]) => unknown;
    const last: unknown = args[args.length - 1];
    if (typeof last === 'function') {
      args[args.length - 1] = (err: unknown, res: unknown) => {
        this.dropIfLost(err);
        (last as Callback)(err, res);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args);
    if (result instanceof Promise) result.catch((err: unknown) => this.dropIfLost(err));
    return result;
  }

  private dropIfLost(err: unknown): void {
    if ((err as Error | undefined)?.message !== READ_TIMEOUT) return;
    const self = this as unknown as ClientInternals;
    self._queryable = false; // before its release: the pool must not hand it out again
    self.connection?.stream?.destroy();
  }
}
