import { randomUUID } from 'node:crypto';
import type { EventId, EventStore, JSONRPCMessage } from '@modelcontextprotocol/server';

type StreamId = string;

/**
 * Per-session SSE event log so a client can resume a stream with
 * Last-Event-ID (and so the server can close a stream and let the client poll).
 * Bounded by count and by bytes: the oldest events are dropped past
 * `maxEvents` or `maxBytes` (their JSON size), and a message larger than
 * `maxBytes` on its own is sent but not kept (it cannot be replayed). Without
 * the byte bound one session could keep 1000 answers of any size for as long
 * as it lives.
 */
export class MemoryEventStore implements EventStore {
  private readonly events = new Map<
    EventId,
    { streamId: StreamId; message: JSONRPCMessage; bytes: number }
  >();
  private bytes = 0;

  constructor(
    private readonly maxEvents = 1000,
    private readonly maxBytes = 512 * 1024,
  ) {}

  /** The JSON bytes of the events kept (for tests and metrics). */
  get size(): { events: number; bytes: number } {
    return { events: this.events.size, bytes: this.bytes };
  }

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const id = `${streamId}_${Date.now().toString(36)}_${randomUUID().slice(0, 8)}`;
    const bytes = Buffer.byteLength(JSON.stringify(message));
    if (bytes > this.maxBytes) return id;
    this.events.set(id, { streamId, message, bytes });
    this.bytes += bytes;
    while (this.events.size > this.maxEvents || this.bytes > this.maxBytes) {
      const [oldest, event] = this.events.entries().next().value!;
      this.events.delete(oldest);
      this.bytes -= event.bytes;
    }
    return id;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.events.get(eventId)?.streamId;
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const last = this.events.get(lastEventId);
    if (!last) return '';
    let found = false;
    for (const [id, event] of this.events) {
      if (id === lastEventId) {
        found = true;
        continue;
      }
      if (found && event.streamId === last.streamId) await send(id, event.message);
    }
    return last.streamId;
  }
}
