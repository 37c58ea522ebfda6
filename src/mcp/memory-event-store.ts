import { randomUUID } from 'node:crypto';
import type { EventId, EventStore, JSONRPCMessage } from '@modelcontextprotocol/server';

type StreamId = string;

/**
 * Per-session SSE event log so a client can resume a stream with
 * Last-Event-ID (and so the server can close a stream and let the client poll).
 * Bounded: the oldest events are dropped past `maxEvents`.
 */
export class MemoryEventStore implements EventStore {
  private readonly events = new Map<EventId, { streamId: StreamId; message: JSONRPCMessage }>();

  constructor(private readonly maxEvents = 1000) {}

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const id = `${streamId}_${Date.now().toString(36)}_${randomUUID().slice(0, 8)}`;
    this.events.set(id, { streamId, message });
    if (this.events.size > this.maxEvents) {
      const oldest = this.events.keys().next().value;
      if (oldest !== undefined) this.events.delete(oldest);
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
