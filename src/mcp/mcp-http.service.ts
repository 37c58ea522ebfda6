import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { NodeMcpRequestHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, isLegacyRequest, McpHttpHandler } from '@modelcontextprotocol/server';
import type { Request, Response } from 'express';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { PRINCIPAL_REQUEST_KEY, RequestWithPrincipal } from '../auth/principal';
import { RevocationService } from '../auth/revocation.service';
import { findProvider } from '../common/find-provider';
import { RequestContext } from '../observability/request-context';
import { toNodeHandlerWithoutSignalRegistry } from './fetch-handler-adapter';
import { HeldStreams } from './held-streams';
import { batchProblem, envelopeProblem, SERVED_PROTOCOL_VERSIONS } from './json-rpc-batch';
import { jsonRpcError } from './json-rpc-error';
import { narrowListen } from './listen-filter';
import { AdmitBatch, LegacySessions } from './legacy-sessions.service';
import { KeyThrottlerGuard } from '../rate-limit/key-throttler.guard';
import { McpServerFactory, RequestAuth, toAuthInfo } from './mcp-server.factory';
import { ResourceUpdates } from './resource-updates.service';

const ALLOWED_METHODS = 'GET, POST, DELETE';
/** MCP's error code for a protocol revision the receiver does not serve (data: supported, requested). */
const UNSUPPORTED_PROTOCOL_VERSION = -32022;
/** How often open event streams are checked against their key's revocation and expiry. */
export const HELD_STREAM_CHECK_MS = 1000;

/** A request that opens a stream the client holds open: the 2025 era's GET, 2026-07-28's listen. */
const opensStream = (req: Request, body: unknown): boolean =>
  req.method === 'GET' || (body as { method?: unknown } | undefined)?.method === 'subscriptions/listen';

/**
 * The request as the SDK's era classifier needs it when the body is already
 * parsed: method, URL and headers only (no second serialisation of the body
 * on every POST; the classifier reads the parsed value instead).
 */
function headersOnlyRequest(req: Request): globalThis.Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return new globalThis.Request(`http://localhost${req.originalUrl}`, { method: req.method, headers });
}

/**
 * The one Streamable HTTP endpoint for both protocol eras: 2026-07-28
 * (stateless, per-request envelope) goes to the SDK's modern handler; 2025-era
 * traffic (initialize, Mcp-Session-Id, GET streams, DELETE) goes to the
 * session manager. The SDK's own classifier decides, so the two never disagree.
 */
@Injectable()
export class McpHttpService implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(McpHttpService.name);
  private modern!: McpHttpHandler;
  private modernNode!: NodeMcpRequestHandler;
  readonly streams = new HeldStreams();
  private streamCheck?: NodeJS.Timeout;
  private admitBatch?: AdmitBatch;

  constructor(
    private readonly factory: McpServerFactory,
    private readonly sessions: LegacySessions,
    private readonly updates: ResourceUpdates,
    @InjectConfig() private readonly config: AppConfig,
    private readonly moduleRef: ModuleRef,
  ) {}

  onModuleInit(): void {
    // Looked up, not injected: the MCP surface can be built without the auth module (its unit tests).
    const revocation = findProvider(this.moduleRef, RevocationService);
    const keyLimit = findProvider(this.moduleRef, KeyThrottlerGuard);
    this.admitBatch = async (req, res, messages) => {
      const refusal = await keyLimit?.chargeBatch(req, res, messages);
      if (refusal) res.status(refusal.status).json(refusal.body);
      return refusal === undefined;
    };
    this.streamCheck = setInterval(() => {
      if (this.streams.size === 0) return;
      const ended = this.streams.endInvalid((keyId) => revocation?.check(keyId) === 'revoked');
      for (const [keyId, reason] of ended) {
        this.logger.log(`Ended the open MCP streams and sessions of key ${keyId}: it was ${reason}`);
        void this.sessions.endSessionsOf(keyId);
      }
    }, HELD_STREAM_CHECK_MS);
    this.streamCheck.unref();
    const onerror = (e: Error) => this.logger.warn(`MCP request rejected: ${e.message}`);
    this.modern = createMcpHandler(() => this.factory.create('modern'), {
      legacy: 'reject',
      onerror,
      maxRequestBodySize: this.config.mcp.maxBodyBytes,
      // A listen stream hears only its key's organisation's updates (see handle).
      bus: this.updates.bus,
    });
    this.modernNode = toNodeHandlerWithoutSignalRegistry(this.modern, onerror);
  }

  async handle(req: Request, res: Response): Promise<void> {
    if (!['GET', 'POST', 'DELETE'].includes(req.method)) {
      jsonRpcError(res, 405, -32000, `Method not allowed: use ${ALLOWED_METHODS}`, {
        Allow: ALLOWED_METHODS,
      });
      return;
    }
    if (req.method === 'POST' && !req.is('application/json')) {
      jsonRpcError(res, 415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
      return;
    }
    const parsedBody: unknown = req.method === 'POST' ? req.body : undefined;
    const version = req.header('mcp-protocol-version');
    // A revision this server does not serve, named on any request other than a batch (whose refusal
    // says which revisions batch): one answer listing every revision served, whichever era the
    // SDK would have guessed from it (it took an unknown future date for 2026-07-28 and asked for _meta).
    if (version !== undefined && !Array.isArray(parsedBody) && !SERVED_PROTOCOL_VERSIONS.includes(version)) {
      const requested = version.slice(0, 40);
      jsonRpcError(
        res,
        400,
        UNSUPPORTED_PROTOCOL_VERSION,
        `Unsupported protocol version: MCP-Protocol-Version ${JSON.stringify(requested)} is not served here ` +
          `(this server serves ${SERVED_PROTOCOL_VERSIONS.join(', ')})`,
        {},
        parsedBody,
        { supported: SERVED_PROTOCOL_VERSIONS, requested },
      );
      return;
    }
    if (Array.isArray(parsedBody)) {
      const problem = batchProblem(parsedBody, req.header('mcp-protocol-version'));
      if (problem) {
        jsonRpcError(res, 400, -32600, problem);
        return;
      }
    } else if (parsedBody !== null && typeof parsedBody === 'object') {
      const problem = envelopeProblem(parsedBody);
      if (problem) {
        jsonRpcError(res, 400, -32600, `Invalid Request: ${problem}`, {}, parsedBody);
        return;
      }
    }
    const auth: RequestAuth = {
      principal: (req as RequestWithPrincipal)[PRINCIPAL_REQUEST_KEY],
      requestId: RequestContext.requestId() ?? 'unknown',
    };
    const streaming = opensStream(req, parsedBody);
    if (auth.principal && streaming) {
      // Stream slots are shared by every organisation here (the SDK's listen router takes 1,024 in all):
      // one organisation's keys may hold a bounded share, so no tenant can shut the others out.
      const limit = this.config.mcp.maxStreamsPerOrg;
      if (this.streams.heldBy(auth.principal.organizationId) >= limit) {
        jsonRpcError(
          res,
          429,
          -32000,
          `Too many open MCP streams: this organisation's keys hold ${limit} on this server ` +
            '(MCP_MAX_STREAMS_PER_ORG); close one (a session GET stream or a subscriptions/listen stream) first',
          {},
          parsedBody,
        );
        return;
      }
      this.streams.hold(res, auth.principal);
    }
    try {
      const legacy = req.method !== 'POST' || (await isLegacyRequest(headersOnlyRequest(req), parsedBody));
      if (!legacy && Array.isArray(parsedBody)) {
        jsonRpcError(
          res,
          400,
          -32600,
          'Invalid Request: MCP 2026-07-28 sends one message per request, not a batch',
        );
        return;
      }
      if (legacy) {
        await this.sessions.handle(req, res, parsedBody, auth, this.admitBatch);
      } else {
        // The SDK's stateless handler answers JSON whatever Accept says; a client that takes neither
        // JSON nor an event stream is told so, as the 2025 era's transport does (no Accept: anything).
        if (!req.accepts(['application/json', 'text/event-stream'])) {
          jsonRpcError(res, 406, -32000, 'Not Acceptable: Accept must allow application/json');
          return;
        }
        (req as Request & { auth?: unknown }).auth = toAuthInfo(auth);
        if (streaming) {
          // It hears only of resources the key could read, and its acknowledgement says so.
          const listen = narrowListen(parsedBody, (uri) => this.factory.mayRead(uri, auth.principal));
          if (!listen.ok) {
            jsonRpcError(res, 200, -32602, listen.message, {}, parsedBody);
            return;
          }
          // The subscriptions/listen stream this request opens is filed under the key's organisation,
          // with its permissions (an update it may not see is not sent to it).
          await this.updates.bus.runAs(auth.principal, () => this.modernNode(req, res, listen.body));
        } else {
          await this.modernNode(req, res, parsedBody);
        }
      }
    } catch (e) {
      this.logger.error(
        { message: 'MCP request failed', requestId: auth.requestId, error: e },
        (e as Error)?.stack,
      );
      jsonRpcError(res, 500, -32603, `Internal error (request id ${auth.requestId})`);
    }
  }

  /**
   * Before the HTTP server waits for open responses: every held stream (a
   * session's GET, a listen) ends, or it would hold the shutdown for the whole
   * grace period. The client reconnects, through the load balancer, to an
   * instance that serves on; requests in flight here still finish.
   */
  beforeApplicationShutdown(): void {
    if (this.streamCheck) clearInterval(this.streamCheck);
    this.streams.endAll();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.modern?.close();
  }
}
