import { Logger } from '@nestjs/common';
import type { EventId, EventStore, JSONRPCMessage } from '@modelcontextprotocol/server';
import type { KeyValueStore } from '../store/key-value-store';

type StreamId = string;

/**
 * How long an event stays replayable. A client resumes within seconds (the
 * stream's retry is 1 s; the SDK's client tries again twice, backing off),
 * and every answer a 2025-era session streams is kept this long, in a store
 * that does not evict: a busy cluster holds about this many seconds of its
 * answers.
 */
export const STORED_EVENT_TTL_MS = 60_000;
/** A stream's event counter outlives its events; a request's stream lasts as long as its call. */
const COUNTER_TTL_MS = 5 * 60_000;
/** Kept in place of a message too large to keep, so a reader knows that position will not come. */
const NOT_KEPT = '{}';
/** Larger messages are sent but not kept (the memory store's bound). */
export const MAX_STORED_EVENT_BYTES = 512 * 1024;

const PREFIX = 'mcp:ev:';
/** Positions a follower keeps looking for at most (a stream's events are few; an expired run is not). */
const MAX_MISSING = 64;

/**
 * A 2025-era session's SSE events in the shared store (Redis in the cluster
 * shape), so a client whose stream broke can resume it with `Last-Event-ID`
 * on whichever instance the load balancer picks, not only on the one that
 * opened the session. Event ids are `<stream id>_<n>`, n counting from 1 per
 * stream; each event is kept for STORED_EVENT_TTL_MS under the session's id,
 * so an id from another session names nothing here. Each stored event is
 * announced on the stream's channel (`announcements`) for an instance that
 * follows the stream for a resuming client (`followStoredStream`).
 *
 * Never throws into the transport: the SDK awaits `storeEvent` before it
 * writes the event to the live stream, so a store that does not answer would
 * otherwise lose the message. Then the event is sent but not kept. That wait
 * is one store round trip (the position); the event is written beside it.
 */
export class StoreEventStore implements EventStore {
  private static readonly logger = new Logger('StoreEventStore');
  private static warned = false;

  constructor(
    private readonly store: KeyValueStore,
    private readonly sessionId: string,
  ) {}

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    let n: number;
    try {
      n = await this.store.incr(counterKey(this.sessionId, streamId), 1, COUNTER_TTL_MS);
    } catch (err) {
      StoreEventStore.warnOnce(err);
      return `${streamId}_0`; // names no stored event: a resume from it replays nothing it has not got
    }
    let json = JSON.stringify(message);
    if (Buffer.byteLength(json) > MAX_STORED_EVENT_BYTES) json = NOT_KEPT;
    // Kept and announced beside the live stream, not before it: the SDK awaits this call before it
    // writes the event, and only the position must be known first. A follower that looks before
    // the write lands reads the position again at its announcement (sendFrom's `missing`).
    void this.keep(streamId, n, json);
    return `${streamId}_${n}`;
  }

  private async keep(streamId: StreamId, n: number, json: string): Promise<void> {
    try {
      await this.store.set(eventKey(this.sessionId, streamId, n), json, { ttlMs: STORED_EVENT_TTL_MS });
      await this.store.publish(channelOf(this.sessionId, streamId), String(n));
    } catch (err) {
      StoreEventStore.warnOnce(err);
    }
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    const parsed = parseEventId(eventId);
    if (!parsed) return undefined;
    // The stream is known while its counter lives: an event id this session's store never handed out names nothing.
    const current = await this.store.get(counterKey(this.sessionId, parsed.streamId));
    return current !== null && Number(current) >= parsed.n ? parsed.streamId : undefined;
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const parsed = parseEventId(lastEventId);
    if (!parsed) return '';
    await this.sendFrom(parsed.streamId, parsed.n + 1, send);
    return parsed.streamId;
  }

  /**
   * Sends the stream's stored events from position `from` up to the newest,
   * skipping the empty ones (the priming event, a message too large to keep);
   * returns the position after the last one looked at. A position counted
   * but not stored yet (its writer is between the two steps of storeEvent),
   * or no longer (expired, or its write failed), goes into `missing`, when
   * given; the positions already in it are looked at again first, so a
   * follower that read too early still sends the event when it lands.
   */
  async sendFrom(
    streamId: StreamId,
    from: number,
    send: (eventId: EventId, message: JSONRPCMessage) => Promise<void>,
    missing?: Set<number>,
  ): Promise<number> {
    const sendAt = async (n: number): Promise<boolean> => {
      const json = await this.store.get(eventKey(this.sessionId, streamId, n));
      if (json === null) return false;
      const message = JSON.parse(json) as JSONRPCMessage;
      if (Object.keys(message).length > 0) await send(`${streamId}_${n}`, message);
      return true;
    };
    for (const n of [...(missing ?? [])].sort((a, b) => a - b)) if (await sendAt(n)) missing!.delete(n);
    const current = Number((await this.store.get(counterKey(this.sessionId, streamId))) ?? 0);
    let next = from;
    for (; next <= current; next++) {
      if (!(await sendAt(next)) && missing && missing.size < MAX_MISSING) missing.add(next);
    }
    return next;
  }

  /** Calls `onEvent` whenever an event is stored on the stream (any instance); resolves to the unsubscribe. */
  announcements(streamId: StreamId, onEvent: () => void): ReturnType<KeyValueStore['subscribe']> {
    return this.store.subscribe(channelOf(this.sessionId, streamId), onEvent);
  }

  private static warnOnce(err: unknown): void {
    if (StoreEventStore.warned) return;
    StoreEventStore.warned = true;
    StoreEventStore.logger.warn(
      `Storing an SSE event failed (${(err as Error)?.message ?? 'error'}); it was sent but cannot be replayed ` +
        '(further failures are not logged)',
    );
  }
}

/** `<stream id>_<n>`: the stream id may hold underscores itself (the SDK's `_GET_stream`). */
export function parseEventId(eventId: string): { streamId: string; n: number } | undefined {
  const cut = eventId.lastIndexOf('_');
  if (cut <= 0 || eventId.length > 200) return undefined;
  const n = Number(eventId.slice(cut + 1));
  if (!/^[1-9][0-9]{0,15}$/.test(eventId.slice(cut + 1)) || !Number.isSafeInteger(n)) return undefined;
  return { streamId: eventId.slice(0, cut), n };
}

const counterKey = (session: string, stream: string): string => `${PREFIX}${session}:${stream}:n`;
const eventKey = (session: string, stream: string, n: number): string => `${PREFIX}${session}:${stream}:${n}`;
const channelOf = (session: string, stream: string): string => `${PREFIX}${session}:${stream}`;
