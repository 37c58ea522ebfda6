import { AsyncLocalStorage } from 'node:async_hooks';

/** What is known about the current request; principal fields are filled in by auth once it has verified the caller. */
export interface RequestContextState {
  requestId: string;
  keyId?: string;
  organizationId?: string;
  userId?: string;
  /**
   * Present when SERVER_TIMING is on: adds one metric to the response's
   * `Server-Timing` header, if its headers have not gone out yet.
   */
  serverTiming?: (name: string, ms: number) => void;
  /**
   * Set when the request's work was refused because something it must not
   * skip is unavailable (the audit trail): the seconds a client should wait.
   * The /mcp transport then answers a single JSON reply with 503 and
   * `Retry-After` instead of 200.
   */
  unavailableRetryAfterSeconds?: number;
}

export type PrincipalFields = Partial<Pick<RequestContextState, 'keyId' | 'organizationId' | 'userId'>>;

const storage = new AsyncLocalStorage<RequestContextState>();

/**
 * The per-request context, carried by AsyncLocalStorage so that any code running
 * on behalf of a request (guards, services, connectors, the logger) can read it
 * without it being passed along. Outside a request every getter returns undefined.
 */
export class RequestContext {
  /** Runs `fn` with a fresh context; used by RequestIdMiddleware and by tests or jobs that want a correlation id. */
  static run<T>(state: RequestContextState, fn: () => T): T {
    return storage.run({ ...state }, fn);
  }

  /**
   * Runs `fn` outside any request's context: shared background work a
   * request happens to start (an audit batch, a spool replay) must not log,
   * nor schedule its timers, under that one request's id.
   */
  static outside<T>(fn: () => T): T {
    return storage.exit(fn);
  }

  static current(): Readonly<RequestContextState> | undefined {
    return storage.getStore();
  }

  static requestId(): string | undefined {
    return storage.getStore()?.requestId;
  }

  /** Whether this request reports `Server-Timing` metrics (SERVER_TIMING on); callers skip their timing when not. */
  static reportsServerTiming(): boolean {
    return storage.getStore()?.serverTiming !== undefined;
  }

  /**
   * Adds `name;dur=ms` to the current response's `Server-Timing` header
   * (when SERVER_TIMING is on and the headers are not yet sent); else nothing.
   */
  static addServerTiming(name: string, ms: number): void {
    storage.getStore()?.serverTiming?.(name, ms);
  }

  /** Marks the current request as refused for unavailability (see `unavailableRetryAfterSeconds`). */
  static refuseAsUnavailable(retryAfterSeconds: number): void {
    const state = storage.getStore();
    if (state) state.unavailableRetryAfterSeconds = retryAfterSeconds;
  }

  /**
   * Adds principal fields (keyId, organizationId, userId) to the current
   * request's context. Returns false, changing nothing, outside a request.
   */
  static setPrincipal(fields: PrincipalFields): boolean {
    const state = storage.getStore();
    if (!state) return false;
    for (const [key, value] of Object.entries(fields) as Array<[keyof PrincipalFields, string | undefined]>) {
      if (value !== undefined) state[key] = value;
    }
    return true;
  }
}
