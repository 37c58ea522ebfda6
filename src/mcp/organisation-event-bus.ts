import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';

type Listener = (event: ServerEvent) => void;

/** Who opened a stream: the organisation of its key, and the key's permissions. */
export interface StreamOwner {
  organizationId: string;
  permissions: readonly string[];
}

/** Whether a listener whose key holds `permissions` may hear an event (absent: every listener may). */
export type MayHear = (permissions: readonly string[]) => boolean;

/**
 * The event bus of the 2026-07-28 `subscriptions/listen` streams, one
 * organisation's events to that organisation's streams only.
 *
 * The SDK's listen router subscribes a listener per open stream, from inside
 * the request that opens it (synchronously, in the stream's `start`), and
 * knows nothing of who asked. McpHttpService runs each `subscriptions/listen`
 * request in `runAs(principal, ...)`, so `subscribe` files the listener
 * under the organisation of the key that opened the stream, with the key's
 * permissions. A listener subscribed outside `runAs` (no organisation) is
 * never called.
 *
 * Events go out with `publishTo(organisation, event, mayHear)`; `mayHear`
 * narrows them to the listeners whose key may see the change (a key that
 * the resource shows nothing of the change to is not woken by it). The SDK's
 * own `publish` (its `notify` facade, which names no organisation) is
 * refused: every event here is some organisation's.
 */
export class OrganisationEventBus implements ServerEventBus {
  private readonly owner = new AsyncLocalStorage<StreamOwner>();
  private readonly listeners = new Map<string, Map<Listener, readonly string[]>>();

  constructor(private readonly onerror?: (e: Error) => void) {}

  /** Runs `fn`; a listener it subscribes belongs to `owner` (to none when absent). */
  runAs<T>(owner: StreamOwner | undefined, fn: () => T): T {
    return owner
      ? this.owner.run({ organizationId: owner.organizationId, permissions: [...owner.permissions] }, fn)
      : this.owner.exit(fn);
  }

  subscribe(listener: Listener): () => void {
    const owner = this.owner.getStore();
    if (owner === undefined) return () => undefined;
    const { organizationId } = owner;
    let mine = this.listeners.get(organizationId);
    if (!mine) this.listeners.set(organizationId, (mine = new Map()));
    mine.set(listener, owner.permissions);
    let live = true;
    return () => {
      if (!live) return;
      live = false;
      mine.delete(listener);
      if (mine.size === 0 && this.listeners.get(organizationId) === mine) {
        this.listeners.delete(organizationId);
      }
    };
  }

  publish(event: ServerEvent): void {
    throw new Error(
      `OrganisationEventBus: ${event.kind} names no organisation; publish it with publishTo(organizationId, event)`,
    );
  }

  /**
   * Delivers `event` to the listeners of `organizationId`'s streams on this instance whose key
   * `mayHear` it (all of them when absent), and no other.
   */
  publishTo(organizationId: string, event: ServerEvent, mayHear?: MayHear): void {
    for (const [listener, permissions] of [...(this.listeners.get(organizationId) ?? [])]) {
      if (mayHear && !mayHear(permissions)) continue;
      try {
        listener(event);
      } catch (e) {
        this.onerror?.(e instanceof Error ? e : new Error(String(e)));
      }
    }
  }

  /** Listeners open now, across organisations (tests, metrics). */
  get size(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
}
