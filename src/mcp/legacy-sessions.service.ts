import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import {
  EventStore,
  isInitializeRequest,
  Server,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/server';
import type { Request, Response } from 'express';
import type { Principal } from '../auth/principal';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { KeyValueStore, Unsubscribe } from '../store/key-value-store';
import { MemoryEventStore } from './memory-event-store';
import { parseEventId, StoreEventStore } from './store-event-store';
import { McpServerFactory, RequestAuth, toAuthInfo } from './mcp-server.factory';
import { BATCHING_PROTOCOL_VERSIONS } from './json-rpc-batch';
import { jsonRpcError } from './json-rpc-error';
import { SessionSubscriptions } from './session-subscriptions';
import type { MayHear } from './organisation-event-bus';

interface LiveSession {
  transport: NodeStreamableHTTPServerTransport;
  server: Server;
  /** The session's SSE event log (what Last-Event-ID names). */
  events: EventStore;
  /** The API key that opened the session; only it may use the session. */
  owner: string;
  /** The organisation of that key: only its resource updates reach the session. */
  organizationId?: string;
  /** That key's permissions: an update the key may not see (MayHear) does not reach the session. */
  permissions: readonly string[];
  protocolVersion: string;
  lastSeen: number;
  /** GET event streams open on it now: a client listening for notifications is not idle. */
  openStreams: number;
}

/** A session's record in the shared store: the truth every instance checks a session id against. */
export interface SessionRecord {
  owner: string;
  createdAt: string;
  instance: string;
  /** The revision initialize negotiated (absent in records written before it was kept). */
  protocolVersion?: string;
}

/**
 * Serves a JSON-RPC batch's other messages against the caller's rate limit
 * (McpHttpService passes the per-key limit's `chargeBatch`); false when it
 * has answered the request itself (a refusal).
 */
export type AdmitBatch = (req: Request, res: Response, messages: number) => Promise<boolean>;

/** The revision the SDK's Server settles on for an initialize that asks for `requested`. */
export function negotiatedVersion(requested: unknown): string {
  return typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
    ? requested
    : SUPPORTED_PROTOCOL_VERSIONS[0];
}

export const SESSION_KEY_PREFIX = 'mcp:session:';
/** The `retry` (ms) a stream tells its client to wait before resuming it. */
const RETRY_MS = 1000;
/**
 * How long an instance that did not open a session follows one of its
 * streams for a resuming client before ending it (the client then resumes
 * again): below the idle timeouts of common load balancers.
 */
export const FOLLOW_MS = 25_000;
/** Channel on which an instance that ends a session (DELETE, revoked key) names it to the others. */
export const SESSIONS_ENDED_CHANNEL = 'mcp:sessions-ended';
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The answer to a Last-Event-ID this session's event log does not hold, on whichever instance. */
const UNKNOWN_EVENT_ID =
  'Bad Request: Last-Event-ID names no event of this session (it expired, or was not sent on it)';

/**
 * 2025-era (2025-06-18 / 2025-11-25) sessions: `initialize` opens one with an
 * `Mcp-Session-Id`, later requests must carry it, DELETE ends it, an unknown
 * id is 404.
 *
 * The session record in the store (Redis in the cluster shape) is the truth,
 * read on every request, so sessions work behind a load balancer without
 * sticky routing: the instance that opened a session keeps its live
 * transport (SSE streams, resumable events); any other instance that gets a
 * request for it serves that request with a one-off stateless transport
 * after checking the record, and a DELETE on any instance ends the session
 * on all of them (the opener is told on the store's channel and closes its
 * transport, GET stream included, at once; without the channel, at its next
 * look at the missing record or the idle sweep). With a shared store (Redis)
 * a session's SSE events are kept there (StoreEventStore), so a client that
 * resumes a broken stream with Last-Event-ID on another instance gets what it
 * missed, and what follows until its answer (`resumeElsewhere`). What does
 * not travel: `logging/setLevel` applies per instance. The record has a
 * sliding TTL.
 * If the store cannot be read, a session live on this instance goes on; any
 * other gets 503, never an unchecked pass.
 */
@Injectable()
export class LegacySessions implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LegacySessions.name);
  private readonly live = new Map<string, LiveSession>();
  private readonly instanceId = randomUUID();
  private sweeper?: NodeJS.Timeout;
  private unsubscribe?: Unsubscribe;
  private readonly ttlMs: number;
  private readonly maxPerKey: number;
  /** When each session's record TTL was last extended by this instance. */
  private readonly touched = new Map<string, number>();
  /** Streams this instance follows for sessions opened elsewhere (resumeElsewhere): each one's end. */
  private readonly followers = new Map<string, Set<() => void>>();

  constructor(
    private readonly factory: McpServerFactory,
    private readonly store: KeyValueStore,
    private readonly subscriptions: SessionSubscriptions,
    @InjectConfig() config: AppConfig,
  ) {
    this.ttlMs = config.mcp.sessionTtlSeconds * 1000;
    this.maxPerKey = config.mcp.maxSessionsPerKey;
  }

  async onModuleInit(): Promise<void> {
    this.sweeper = setInterval(() => void this.sweep(), Math.min(60_000, this.ttlMs / 2));
    this.sweeper.unref();
    // A session ended on another instance closes here at once (its GET stream with it), not at the sweep.
    try {
      this.unsubscribe = await this.store.subscribe(SESSIONS_ENDED_CHANNEL, (id) => {
        if (!SESSION_ID.test(id)) return;
        if (this.live.has(id)) void this.forget(id);
        this.endFollowers(id);
      });
    } catch (err) {
      this.logger.warn(
        `Subscribing to ended sessions failed (${(err as Error)?.message ?? 'error'}); ` +
          'a session ended elsewhere closes here at its next request or the idle sweep',
      );
    }
  }

  get size(): number {
    return this.live.size;
  }

  async handle(
    req: Request,
    res: Response,
    parsedBody: unknown,
    auth: RequestAuth,
    admitBatch?: AdmitBatch,
  ): Promise<void> {
    const sessionId = req.header('mcp-session-id');
    const owner = auth.principal?.keyId ?? 'anonymous';
    // The session id reaches the handlers (resources/subscribe) only for a request served below, after the check.
    (req as Request & { auth?: unknown }).auth = toAuthInfo({ ...auth, sessionId });

    if (!sessionId) {
      if (req.method === 'POST' && isInitializeRequest(parsedBody) && hasRequestId(parsedBody)) {
        await this.open(req, res, parsedBody, owner, auth.principal);
        return;
      }
      if (req.method === 'POST' && (parsedBody as { method?: unknown } | null)?.method === 'initialize') {
        jsonRpcError(res, 400, -32602, initializeProblem(parsedBody), {}, parsedBody);
        return;
      }
      const message =
        req.method === 'POST'
          ? 'Bad Request: the Mcp-Session-Id header is required (send initialize first to open a session)'
          : `Bad Request: ${req.method} /mcp needs an Mcp-Session-Id header`;
      jsonRpcError(res, 400, -32000, message, {}, parsedBody);
      return;
    }

    const session = this.live.get(sessionId);
    let record: Pick<SessionRecord, 'owner' | 'protocolVersion'> | null;
    try {
      record = await this.lookup(sessionId);
    } catch (err) {
      if (!session) {
        this.storeUnavailable(res, err);
        return;
      }
      record = session; // the store is down: this instance's own session goes on
    }
    if (record === null && session) await this.forget(sessionId); // ended elsewhere, or expired
    if (record?.owner !== owner) {
      // Another key's session is reported exactly like a missing one.
      jsonRpcError(
        res,
        404,
        -32001,
        'Session not found: it expired or was ended; initialize a new session',
        {},
        parsedBody,
      );
      return;
    }
    this.touch(sessionId);
    if (Array.isArray(parsedBody)) {
      const version = record.protocolVersion;
      if (!version || !BATCHING_PROTOCOL_VERSIONS.includes(version)) {
        jsonRpcError(
          res,
          400,
          -32600,
          `Invalid Request: this session speaks MCP ${version ?? '2025-06-18 or later'}, which sends one ` +
            'message per request; JSON-RPC batches belong to 2025-03-26 and older',
        );
        return;
      }
      if (admitBatch && !(await admitBatch(req, res, parsedBody.length))) return;
    }
    if (session) {
      session.lastSeen = Date.now();
      if (req.method === 'GET' && !(await this.knowsLastEventId(session, req, res))) return;
      if (req.method === 'GET') {
        session.openStreams++;
        res.once('close', () => session.openStreams--);
      }
      await session.transport.handleRequest(req, res, parsedBody);
      return;
    }
    await this.serveElsewhereOpened(sessionId, req, res, parsedBody);
  }

  /**
   * Whether a GET's Last-Event-ID (if any) names an event of this live session; else the request is
   * answered here: 400 saying so, as another instance answers it (the SDK's own answer calls any id
   * its event log does not hold, an expired one too, an "Invalid event ID format"), or 503 when the
   * store cannot be read. A client that does not take an event stream is left to the SDK's 406.
   */
  private async knowsLastEventId(session: LiveSession, req: Request, res: Response): Promise<boolean> {
    const lastEventId = req.header('last-event-id');
    if (lastEventId === undefined || !req.accepts('text/event-stream')) return true;
    let streamId: string | undefined;
    try {
      streamId = await session.events.getStreamIdForEventId?.(lastEventId);
    } catch (err) {
      this.storeUnavailable(res, err);
      return false;
    }
    if (streamId !== undefined) return true;
    jsonRpcError(res, 400, -32000, UNKNOWN_EVENT_ID);
    return false;
  }

  /** The session's record, or null when it does not exist (ended, expired, never opened). */
  private async lookup(sessionId: string): Promise<SessionRecord | null> {
    const raw = await this.store.get(SESSION_KEY_PREFIX + sessionId);
    if (raw === null) return null;
    try {
      return JSON.parse(raw) as SessionRecord;
    } catch {
      return null;
    }
  }

  /** Extends the record's TTL, at most every quarter TTL per session and instance. */
  private touch(sessionId: string): void {
    const now = Date.now();
    if (now - (this.touched.get(sessionId) ?? 0) <= this.ttlMs / 4) return;
    this.touched.set(sessionId, now);
    void this.store.expire(SESSION_KEY_PREFIX + sessionId, this.ttlMs).catch(() => undefined);
    this.subscriptions.keepAlive(sessionId);
  }

  /**
   * A request for a session another instance opened (its record checked):
   * DELETE ends it everywhere; anything else is served by a stateless
   * transport and server that live for this request only.
   */
  private async serveElsewhereOpened(
    sessionId: string,
    req: Request,
    res: Response,
    body: unknown,
  ): Promise<void> {
    if (req.method === 'DELETE') {
      await this.store.del(SESSION_KEY_PREFIX + sessionId);
      await this.subscriptions.drop(sessionId);
      this.announceEnded(sessionId);
      this.touched.delete(sessionId);
      res.status(200).end();
      return;
    }
    const lastEventId = req.header('last-event-id');
    if (req.method === 'GET' && lastEventId !== undefined) {
      await this.resumeElsewhere(sessionId, lastEventId, req, res);
      return;
    }
    const server = this.factory.create('legacy');
    const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.once('close', () => void server.close().catch(() => undefined));
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  /**
   * A GET with Last-Event-ID for a session another instance opened: the
   * client's stream broke and the load balancer sent its resume here. The
   * events it missed are replayed from the store, then the ones that follow
   * as the opening instance stores them, until the stream's answer has been
   * sent (the stream is then complete, as the opener would end it) or
   * FOLLOW_MS pass; then the stream ends and the client, per the spec,
   * resumes again from the last event it got (`retry` ms later), wherever
   * that lands. An id this session's store never handed out is a 400, as the
   * opening instance answers it.
   */
  private async resumeElsewhere(
    sessionId: string,
    lastEventId: string,
    req: Request,
    res: Response,
  ): Promise<void> {
    if (!req.accepts('text/event-stream')) {
      jsonRpcError(res, 406, -32000, 'Not Acceptable: Client must accept text/event-stream');
      return;
    }
    const events = new StoreEventStore(this.store, sessionId);
    let streamId: string | undefined;
    try {
      streamId = await events.getStreamIdForEventId(lastEventId);
    } catch (err) {
      this.storeUnavailable(res, err);
      return;
    }
    if (streamId === undefined) {
      jsonRpcError(res, 400, -32000, UNKNOWN_EVENT_ID);
      return;
    }
    const stream = streamId;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
      'mcp-session-id': sessionId,
    });
    res.write(`retry: ${RETRY_MS}\n\n`);
    let next = parseEventId(lastEventId)!.n + 1;
    const missing = new Set<number>();
    let answered = false;
    let ended = false;
    let unsubscribe: (() => Promise<void>) | undefined;
    const end = () => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      void unsubscribe?.().catch(() => undefined);
      const mine = this.followers.get(sessionId);
      mine?.delete(end);
      if (mine?.size === 0) this.followers.delete(sessionId);
      res.end();
    };
    if (!this.followers.has(sessionId)) this.followers.set(sessionId, new Set());
    this.followers.get(sessionId)!.add(end);
    const timer = setTimeout(end, FOLLOW_MS);
    timer.unref();
    res.once('close', end);
    const write = async (eventId: string, message: unknown) => {
      if (ended) return;
      res.write(`event: message\nid: ${eventId}\ndata: ${JSON.stringify(message)}\n\n`);
      if (isResponse(message)) answered = true;
    };
    // One pass at a time, each from where the last stopped: an announcement during a pass is read by the next.
    let passes = Promise.resolve();
    const drain = (): Promise<void> =>
      (passes = passes
        .then(async () => {
          if (ended) return;
          next = await events.sendFrom(stream, next, write, missing);
          if (answered) end();
        })
        .catch(() => end()));
    try {
      unsubscribe = await events.announcements(stream, () => void drain());
    } catch {
      // Without the channel: what is stored now, then the client resumes again.
    }
    if (ended) void unsubscribe?.().catch(() => undefined);
    await drain();
    if (!unsubscribe) end();
  }

  /**
   * `initialize` without a session: the record is stored first, under an id
   * chosen here, so a store that cannot be written answers 503 before any
   * session exists; an initialize the transport refuses removes it again.
   */
  private async open(
    req: Request,
    res: Response,
    body: unknown,
    owner: string,
    principal: Principal | undefined,
  ): Promise<void> {
    const id = randomUUID();
    const protocolVersion = negotiatedVersion(
      (body as { params?: { protocolVersion?: unknown } }).params?.protocolVersion,
    );
    const record: SessionRecord = {
      owner,
      createdAt: new Date().toISOString(),
      instance: this.instanceId,
      protocolVersion,
    };
    try {
      await this.store.set(SESSION_KEY_PREFIX + id, JSON.stringify(record), { ttlMs: this.ttlMs });
    } catch (err) {
      this.storeUnavailable(res, err);
      return;
    }
    const server = this.factory.create('legacy');
    // Shared (cluster): any instance can replay a broken stream. Alone: this process's memory.
    const events: EventStore =
      this.store.kind === 'redis' ? new StoreEventStore(this.store, id) : new MemoryEventStore();
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      eventStore: events,
      retryInterval: RETRY_MS,
      onsessioninitialized: () => {
        const now = Date.now();
        this.evictBeyondCap(owner);
        this.live.set(id, {
          transport,
          server,
          events,
          owner,
          organizationId: principal?.organizationId,
          permissions: [...(principal?.permissions ?? [])],
          protocolVersion,
          lastSeen: now,
          openStreams: 0,
        });
        this.touched.set(id, now);
      },
      onsessionclosed: async () => {
        await this.forget(id, true); // DELETE: the session ends on every instance
      },
    });
    transport.onclose = () => void this.forget(id);
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    if (!this.live.has(id)) {
      await this.store.del(SESSION_KEY_PREFIX + id).catch(() => undefined);
      await server.close().catch(() => undefined);
    }
  }

  private storeUnavailable(res: Response, err: unknown): void {
    // The error's own message (e.g. "connect ECONNREFUSED 127.0.0.1:6379"); the logger redacts URLs' passwords.
    const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    this.logger.warn(`Session store unreachable (${why.slice(0, 300)}); refusing a session request`);
    res.setHeader('Retry-After', '1');
    jsonRpcError(res, 503, -32000, 'Session store temporarily unavailable; retry shortly');
  }

  /**
   * Ends every session `keyId` opened here, on every instance (its records
   * go): its key was revoked or expired, so no request could use them again.
   */
  async endSessionsOf(keyId: string): Promise<void> {
    const ids = [...this.live.entries()].filter(([, s]) => s.owner === keyId).map(([id]) => id);
    await Promise.all(ids.map((id) => this.forget(id, true)));
  }

  /**
   * Sends `notifications/resources/updated` for `uri` to each session live
   * here whose key belongs to `organizationId` (and `mayHear` it, when given)
   * and that subscribed to `uri`
   * (on whichever instance: the subscriptions are read from the store), on
   * its GET stream (kept in its event log when none is open, for a client
   * that resumes). Sessions of other organisations are not looked at.
   */
  async notifyResourceUpdated(organizationId: string, uri: string, mayHear?: MayHear): Promise<void> {
    const ours = [...this.live.entries()].filter(
      ([, s]) => s.organizationId === organizationId && (!mayHear || mayHear(s.permissions)),
    );
    await Promise.all(
      ours.map(async ([id, session]) => {
        try {
          if (!(await this.subscriptions.of(id)).includes(uri)) return;
          if (this.live.get(id) !== session) return; // ended meanwhile
          await session.server.sendResourceUpdated({ uri });
        } catch (err) {
          this.logger.warn(
            `Could not tell MCP session ${id} of an update of ${uri}: ${(err as Error)?.message ?? 'error'}`,
          );
        }
      }),
    );
  }

  /**
   * Keeps at most `maxPerKey - 1` live sessions of `owner` before it opens
   * another, closing the least recently used here. Only this instance's
   * transport goes (memory, event log): the session's record stays, so its
   * next request is still served, statelessly, as on any other instance;
   * what it loses is replaying missed events. A key opening session after
   * session without ending them (or a client that never sends DELETE)
   * otherwise holds memory for every one of them until the idle TTL.
   */
  private evictBeyondCap(owner: string): void {
    const mine = [...this.live.entries()].filter(([, s]) => s.owner === owner);
    if (mine.length < this.maxPerKey) return;
    mine.sort(([, a], [, b]) => a.lastSeen - b.lastSeen);
    for (const [id] of mine.slice(0, mine.length - this.maxPerKey + 1)) {
      this.logger.debug(
        `Closing the least recently used MCP session ${id} of its key (cap ${this.maxPerKey})`,
      );
      void this.forget(id);
    }
  }

  /**
   * Drops this instance's live transport. Only an explicit end (DELETE, a
   * revoked key) removes the shared record: an instance that idles its copy
   * out, or shuts down, leaves the session to the others (the record expires
   * on its own when nobody uses it for the TTL).
   */
  private async forget(id: string, endEverywhere = false): Promise<void> {
    const session = this.live.get(id);
    if (!session) return;
    this.touched.delete(id);
    this.live.delete(id);
    if (endEverywhere) {
      await this.store.del(SESSION_KEY_PREFIX + id).catch(() => undefined);
      await this.subscriptions.drop(id);
      this.announceEnded(id);
    }
    await session.server.close().catch(() => undefined);
  }

  /** Tells the other instances (best effort: without the channel they notice at the next look). */
  private announceEnded(id: string): void {
    this.endFollowers(id);
    void this.store.publish(SESSIONS_ENDED_CHANNEL, id).catch(() => undefined);
  }

  /** Ends the streams followed here for a session that ended (DELETE anywhere). */
  private endFollowers(id: string): void {
    for (const end of this.followers.get(id) ?? []) end();
  }

  private async sweep(): Promise<void> {
    const cutoff = Date.now() - this.ttlMs;
    for (const [id, at] of this.touched) if (at < cutoff && !this.live.has(id)) this.touched.delete(id);
    for (const [id, s] of this.live) {
      if (s.openStreams > 0) {
        // Listening is activity: the session and its record live on while a GET stream is open. Unless the
        // record is gone (ended on another instance whose announcement did not arrive): then it ends here too,
        // or its stream would go on taking updates for a session no request may use. A store that cannot be
        // read ends nothing.
        if ((await this.lookup(id).catch(() => undefined)) === null) {
          await this.forget(id);
          continue;
        }
        s.lastSeen = Date.now();
        this.touch(id);
        continue;
      }
      if (s.lastSeen < cutoff) {
        this.logger.debug(`Closing idle MCP session ${id}`);
        await this.forget(id);
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.unsubscribe?.().catch(() => undefined);
    await Promise.all([...this.live.keys()].map((id) => this.forget(id)));
  }
}

/** Why an `initialize` message is not one the session manager can open a session with. */
function initializeProblem(body: unknown): string {
  const params = (body as { params?: unknown }).params;
  const fields = ['protocolVersion', 'capabilities', 'clientInfo'];
  const missing =
    params !== null && typeof params === 'object' && !Array.isArray(params)
      ? fields.filter((f) => (params as Record<string, unknown>)[f] === undefined)
      : fields;
  if (!hasRequestId(body)) missing.unshift('id');
  const problems = missing.length
    ? missing
        .map((f) =>
          f === 'id'
            ? 'id: is required (initialize is a request, not a notification)'
            : `params.${f}: is required`,
        )
        .join('; ')
    : 'params must be { protocolVersion: string, capabilities: object, clientInfo: { name, version } }';
  return `Invalid initialize request: ${problems}`;
}

/** A JSON-RPC request's id: a string or a number (a notification has none). */
function hasRequestId(body: unknown): boolean {
  const id = (body as { id?: unknown } | null)?.id;
  return typeof id === 'string' || typeof id === 'number';
}

/** A JSON-RPC response (a result or an error for a request id): what completes a request's stream. */
function isResponse(message: unknown): boolean {
  const m = message as { id?: unknown; result?: unknown; error?: unknown; method?: unknown } | null;
  return (
    m !== null &&
    typeof m === 'object' &&
    m.method === undefined &&
    m.id !== undefined &&
    ('result' in m || 'error' in m)
  );
}
