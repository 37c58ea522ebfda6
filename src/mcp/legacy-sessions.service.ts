import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { isInitializeRequest, Server } from '@modelcontextprotocol/server';
import type { Request, Response } from 'express';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { KeyValueStore } from '../store/key-value-store';
import { MemoryEventStore } from './memory-event-store';
import { McpServerFactory, RequestAuth, toAuthInfo } from './mcp-server.factory';
import { jsonRpcError } from './json-rpc-error';

interface LiveSession {
  transport: NodeStreamableHTTPServerTransport;
  server: Server;
  /** The API key that opened the session; only it may use the session. */
  owner: string;
  lastSeen: number;
  lastTouched: number;
}

/** The record other instances (and a later portability layer) read from the store. */
export interface SessionRecord {
  owner: string;
  createdAt: string;
  instance: string;
}

export const SESSION_KEY_PREFIX = 'mcp:session:';

/**
 * 2025-era (2025-06-18 / 2025-11-25) sessions: `initialize` opens one with an
 * `Mcp-Session-Id`, later requests must carry it, DELETE ends it, an unknown
 * id is 404. The live transport stays on the instance that opened it; the
 * session record goes to the store with a sliding TTL.
 */
@Injectable()
export class LegacySessions implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LegacySessions.name);
  private readonly live = new Map<string, LiveSession>();
  private readonly instanceId = randomUUID();
  private sweeper?: NodeJS.Timeout;
  private readonly ttlMs: number;

  constructor(
    private readonly factory: McpServerFactory,
    private readonly store: KeyValueStore,
    @InjectConfig() config: AppConfig,
  ) {
    this.ttlMs = config.mcp.sessionTtlSeconds * 1000;
  }

  onModuleInit(): void {
    this.sweeper = setInterval(() => void this.sweep(), Math.min(60_000, this.ttlMs / 2));
    this.sweeper.unref();
  }

  get size(): number {
    return this.live.size;
  }

  async handle(req: Request, res: Response, parsedBody: unknown, auth: RequestAuth): Promise<void> {
    const sessionId = req.header('mcp-session-id');
    const owner = auth.principal?.keyId ?? 'anonymous';
    (req as Request & { auth?: unknown }).auth = toAuthInfo(auth);

    if (!sessionId) {
      if (req.method === 'POST' && isInitializeRequest(parsedBody)) {
        await this.open(req, res, parsedBody, owner);
        return;
      }
      const message =
        req.method === 'POST'
          ? 'Bad Request: the Mcp-Session-Id header is required (send initialize first to open a session)'
          : `Bad Request: ${req.method} /mcp needs an Mcp-Session-Id header`;
      jsonRpcError(res, 400, -32000, message);
      return;
    }

    const session = this.live.get(sessionId);
    if (!session || session.owner !== owner) {
      // Another key's session is reported exactly like a missing one.
      jsonRpcError(res, 404, -32001, 'Session not found: it expired or was ended; initialize a new session');
      return;
    }
    session.lastSeen = Date.now();
    if (session.lastSeen - session.lastTouched > this.ttlMs / 4) {
      session.lastTouched = session.lastSeen;
      void this.store.expire(SESSION_KEY_PREFIX + sessionId, this.ttlMs).catch(() => undefined);
    }
    await session.transport.handleRequest(req, res, parsedBody);
  }

  private async open(req: Request, res: Response, body: unknown, owner: string): Promise<void> {
    const server = this.factory.create('legacy');
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new MemoryEventStore(),
      retryInterval: 1000,
      onsessioninitialized: async (id) => {
        const now = Date.now();
        this.live.set(id, { transport, server, owner, lastSeen: now, lastTouched: now });
        const record: SessionRecord = {
          owner,
          createdAt: new Date(now).toISOString(),
          instance: this.instanceId,
        };
        await this.store.set(SESSION_KEY_PREFIX + id, JSON.stringify(record), { ttlMs: this.ttlMs });
      },
      onsessionclosed: async (id) => {
        await this.forget(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) void this.forget(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  private async forget(id: string): Promise<void> {
    const session = this.live.get(id);
    if (!session) return;
    this.live.delete(id);
    await this.store.del(SESSION_KEY_PREFIX + id).catch(() => undefined);
    await session.server.close().catch(() => undefined);
  }

  private async sweep(): Promise<void> {
    const cutoff = Date.now() - this.ttlMs;
    for (const [id, s] of this.live) {
      if (s.lastSeen < cutoff) {
        this.logger.debug(`Closing idle MCP session ${id}`);
        await this.forget(id);
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await Promise.all([...this.live.keys()].map((id) => this.forget(id)));
  }
}
