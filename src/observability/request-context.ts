import { AsyncLocalStorage } from 'node:async_hooks';

/** What is known about the current request; principal fields are filled in by auth once it has verified the caller. */
export interface RequestContextState {
  requestId: string;
  keyId?: string;
  organizationId?: string;
  userId?: string;
}

export type PrincipalFields = Partial<Omit<RequestContextState, 'requestId'>>;

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

  static current(): Readonly<RequestContextState> | undefined {
    return storage.getStore();
  }

  static requestId(): string | undefined {
    return storage.getStore()?.requestId;
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
