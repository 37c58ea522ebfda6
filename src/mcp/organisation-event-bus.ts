import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';

type Listener = (event: ServerEvent) => void;

/**
 * The event bus of the 2026-07-28 `subscriptions/listen` streams, one
 * organisation's events to that organisation's streams only.
 *
 * The SDK's listen router subscribes a listener per open stream, from inside
 * the request that opens it (synchronously, in the stream's `start`), and
 * knows nothing of who asked. McpHttpService runs each 2026-07-28 request in
 * `runAs(principal.organizationId, ...)`, so `subscribe` files the listener
 * under the organisation of the key that opened the stream. A listener
 * subscribed outside `runAs` (no organisation) is never called.
 *
 * Events go out with `publishTo(organisation, event)`; the SDK's own
 * `publish` (its `notify` facade, which names no organisation) is refused:
 * every event here is some organisation's.
 */
export class OrganisationEventBus implements ServerEventBus {
  private readonly owner = new AsyncLocalStorage<string>();
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(private readonly onerror?: (e: Error) => void) {}

  /** Runs `fn`; a listener it subscribes belongs to `organizationId` (to none when absent). */
  runAs<T>(organizationId: string | undefined, fn: () => T): T {
    return organizationId ? this.owner.run(organizationId, fn) : this.owner.exit(fn);
  }

  subscribe(listener: Listener): () => void {
    const organizationId = this.owner.getStore();
    if (organizationId === undefined) return () => undefined;
    let mine = this.listeners.get(organizationId);
    if (!mine) this.listeners.set(organizationId, (mine = new Set()));
    mine.add(listener);
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

  /** Delivers `event` to the listeners of `organizationId`'s streams on this instance, and no other. */
  publishTo(organizationId: string, event: ServerEvent): void {
    for (const listener of [...(this.listeners.get(organizationId) ?? [])]) {
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
