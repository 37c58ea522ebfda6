/**
 * A request for a method of the other protocol era (a 2025-era session
 * asking `subscriptions/listen`, a 2026-07-28 request asking
 * `resources/subscribe`) is answered by the SDK with -32601 and a bare
 * "Method not found", before any handler of ours runs. This names the
 * method, says which era it belongs to and what to use instead.
 */

export type Era = 'legacy' | 'modern';

const MODERN = '2026-07-28';

/** Methods of one era the other does not have, and what a client of the other era uses instead. */
const ONLY_IN: Record<Era, Record<string, string | undefined>> = {
  legacy: {
    initialize: 'server/discover',
    ping: undefined,
    'logging/setLevel': undefined,
    'resources/subscribe': 'subscriptions/listen',
    'resources/unsubscribe': 'subscriptions/listen (close its stream to stop)',
    'tasks/get': undefined,
    'tasks/result': undefined,
    'tasks/list': undefined,
    'tasks/cancel': undefined,
  },
  modern: {
    'server/discover': 'initialize',
    'subscriptions/listen': 'resources/subscribe, with updates on the session GET stream',
  },
};

const own = (table: Record<string, unknown>, key: string): boolean =>
  Object.prototype.hasOwnProperty.call(table, key);

/**
 * The message for a request of method `method` that a server of era `era`
 * does not serve because it belongs to the other era; undefined when it does
 * not (an unknown method, or one of this era).
 */
export function otherEraMethodMessage(method: string, era: Era): string | undefined {
  const other: Era = era === 'legacy' ? 'modern' : 'legacy';
  if (!own(ONLY_IN[other], method)) return undefined;
  const instead = ONLY_IN[other][method];
  const where =
    other === 'modern'
      ? `is a protocol ${MODERN} method, not one of this 2025-era session's`
      : `is not in protocol ${MODERN} (only in the 2025-era revisions)`;
  return `Method not found: ${method} ${where}${instead ? `; use ${instead}` : ''}`;
}

interface JsonRpcLike {
  id?: unknown;
  method?: unknown;
  error?: { code?: unknown; message?: unknown };
}

type Id = string | number;
const isId = (id: unknown): id is Id => typeof id === 'string' || typeof id === 'number';

/**
 * Wraps a connected transport so the SDK's bare "Method not found" for a
 * request of the other era's method names it (see otherEraMethodMessage).
 * Only requests for such methods are remembered, until their answer is sent.
 */
export function namingOtherEraMethods<
  T extends {
    onmessage?: (message: never, ...rest: never[]) => void;
    send: (message: never, ...rest: never[]) => unknown;
  },
>(transport: T, era: Era): T {
  const pending = new Map<Id, string>();
  const receive = transport.onmessage as ((message: unknown, ...rest: unknown[]) => void) | undefined;
  if (!receive) return transport;
  transport.onmessage = ((message: unknown, ...rest: unknown[]) => {
    for (const m of Array.isArray(message) ? message : [message]) {
      const { id, method } = (m ?? {}) as JsonRpcLike;
      if (isId(id) && typeof method === 'string') {
        const text = otherEraMethodMessage(method, era);
        if (text) pending.set(id, text);
      }
    }
    receive(message, ...rest);
  }) as T['onmessage'];
  const send = transport.send.bind(transport) as (message: unknown, ...rest: unknown[]) => unknown;
  transport.send = ((message: unknown, ...rest: unknown[]) => {
    const m = message as JsonRpcLike | null;
    if (pending.size > 0 && m && isId(m.id) && pending.has(m.id)) {
      const text = pending.get(m.id)!;
      pending.delete(m.id);
      if (m.error?.code === -32601 && m.error.message === 'Method not found') {
        return send({ ...m, error: { ...m.error, message: text } }, ...rest);
      }
    }
    return send(message, ...rest);
  }) as T['send'];
  return transport;
}
