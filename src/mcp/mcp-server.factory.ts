import { HttpException, Injectable, Logger } from '@nestjs/common';
import {
  AuthInfo,
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
  Server,
  ServerContext,
  Tool as ToolDescriptor,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { AUDIT_RETRY_AFTER_SECONDS } from '../audit/audit.errors';
import { describeFieldErrors, fieldErrors } from '../common/field-errors';
import { cutText, wellFormed } from '../common/well-formed';
import { RequestContext } from '../observability/request-context';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import type { Principal } from '../auth/principal';
import type { McpCallContext } from './mcp-context';
import { McpRegistry, RegisteredPrompt } from './mcp-registry.service';
import type { ObjectSchema } from './mcp.decorators';
import { ResourceReadHooks, ResourceReadOutcome } from './resource-read-hooks';
import { namingOtherEraMethods } from './other-era-methods';
import { withReadableProtocolErrors } from './readable-protocol-errors';
import { SessionSubscriptions } from './session-subscriptions';
import { mayAccess, ToolPipeline } from './tool-pipeline.service';

/** What the HTTP layer hands the SDK for each request (never the caller's token). */
export interface RequestAuth {
  principal?: Principal;
  requestId: string;
  /** The 2025-era session the request belongs to, once LegacySessions has checked it is the caller's. */
  sessionId?: string;
}

export function toAuthInfo(auth: RequestAuth): AuthInfo {
  return {
    token: '', // the bearer token is never handed on, not even to our own handlers
    clientId: auth.principal?.keyId ?? 'anonymous',
    scopes: [...(auth.principal?.permissions ?? [])],
    extra: { principal: auth.principal, requestId: auth.requestId, sessionId: auth.sessionId },
  };
}

const COMPLETION_LIMIT = 100;

/**
 * Builds SDK `Server` instances wired to the registry and the tool pipeline.
 * Only handlers are attached here (closures over shared, precomputed state),
 * so a server per request costs a few object allocations (see bench/).
 */
@Injectable()
export class McpServerFactory {
  private readonly logger = new Logger('McpServer');
  private readonly info: { name: string; version: string; title: string };

  constructor(
    private readonly registry: McpRegistry,
    private readonly pipeline: ToolPipeline,
    private readonly readHooks: ResourceReadHooks,
    private readonly subscriptions: SessionSubscriptions,
    @InjectConfig() config: AppConfig,
  ) {
    this.info = { name: config.appName, version: config.appVersion, title: 'Sentia MCP' };
  }

  /**
   * Whether `principal` could read `uri`: it names a resource (or matches a template) and the key holds
   * its permission. What a 2025-era `resources/subscribe` and a 2026-07-28 listen may ask to hear of.
   */
  mayRead(uri: string, principal: Principal | undefined): boolean {
    const match = this.registry.matchResource(uri);
    return match !== undefined && mayAccess(match.resource.options.permission, principal);
  }

  create(era: 'legacy' | 'modern'): Server {
    const server = new Server(this.info, {
      capabilities: {
        tools: { listChanged: false },
        resources: { subscribe: true, listChanged: false },
        prompts: { listChanged: false },
        logging: {},
        completions: {},
      },
      instructions:
        'Sentia MCP exposes business systems (accounting, commerce, inventory, AI) as tools. ' +
        'Tools you may call are listed by tools/list; each error message says what to change.',
    });
    const context = (sdk: ServerContext): McpCallContext => this.context(sdk, era);
    // Both eras connect each server to its transport here: its error answers name bad fields in one line.
    const connect = server.connect.bind(server);
    server.connect = async (transport) => {
      await connect(withReadableProtocolErrors(transport));
      namingOtherEraMethods(transport, era); // after connect: it wraps the handler connect installed
    };

    // A method no handler serves: the SDK's own answer says only "Method not found".
    server.fallbackRequestHandler = (req) =>
      Promise.reject(
        new ProtocolError(ProtocolErrorCode.MethodNotFound, `Method not found: ${echoed(req.method)}`),
      );

    server.setRequestHandler('tools/list', (req, sdk) => {
      refuseCursor(req.params?.cursor);
      const principal = context(sdk).principal;
      const tools: ToolDescriptor[] = [];
      for (const t of this.registry.tools.values()) {
        if (!mayAccess(t.options.permission, principal)) continue;
        tools.push({
          name: t.options.name,
          title: t.options.title,
          description: t.options.description,
          inputSchema: t.inputJsonSchema as ToolDescriptor['inputSchema'],
          outputSchema: t.outputJsonSchema as ToolDescriptor['outputSchema'],
          annotations: t.options.annotations,
        });
      }
      return { tools };
    });

    server.setRequestHandler('tools/call', async (req, sdk) => {
      const tool = this.registry.tools.get(req.params.name);
      const ctx = context(sdk);
      // A tool the key may not call is answered by the pipeline with the permission it needs.
      try {
        if (!tool) {
          const name = echoed(req.params.name);
          await this.pipeline.refuseUnknown(name, ctx, req.params.arguments);
          throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
        }
        return await this.pipeline.call(tool, ctx, req.params.arguments);
      } catch (e) {
        throw this.fault(
          e,
          `tools/call ${tool?.options.name ?? 'of an unknown tool'} failed after the tool ran`,
          ctx,
        );
      }
    });

    server.setRequestHandler('resources/list', (req, sdk) => {
      refuseCursor(req.params?.cursor);
      const principal = context(sdk).principal;
      const resources = [...this.registry.resources.values()]
        .filter((r) => mayAccess(r.options.permission, principal))
        .map((r) => ({
          uri: r.options.uri!,
          name: r.options.name,
          title: r.options.title,
          description: r.options.description,
          mimeType: r.options.mimeType,
        }));
      return { resources };
    });

    server.setRequestHandler('resources/templates/list', (req, sdk) => {
      refuseCursor(req.params?.cursor);
      const principal = context(sdk).principal;
      const resourceTemplates = this.registry.templates
        .filter((r) => mayAccess(r.options.permission, principal))
        .map((r) => ({
          uriTemplate: r.options.uriTemplate!,
          name: r.options.name,
          title: r.options.title,
          description: r.options.description,
          mimeType: r.options.mimeType,
        }));
      return { resourceTemplates };
    });

    // Every read is audited (ResourceReadHooks), a refused one too: a resource may reveal organisation data.
    server.setRequestHandler('resources/read', async (req, sdk) => {
      const ctx = context(sdk);
      const started = performance.now();
      const settle = (outcome: ResourceReadOutcome, errorCode?: string) =>
        this.readHooks.afterRead({
          uri: echoed(req.params.uri),
          principal: ctx.principal,
          requestId: ctx.requestId,
          outcome,
          errorCode,
          durationMs: performance.now() - started,
        });
      try {
        const match = this.registry.matchResource(req.params.uri);
        if (!match || !mayAccess(match.resource.options.permission, ctx.principal)) {
          await settle('denied', 'resource_not_found');
          throw resourceNotFound(req.params.uri);
        }
        let result: unknown;
        try {
          result = await match.resource.handler(ctx, new URL(req.params.uri), match.variables);
        } catch (e) {
          await settle(e instanceof ProtocolError ? 'denied' : 'internal_error', errorCodeOf(e));
          throw e;
        }
        await settle('success');
        return result as never;
      } catch (e) {
        throw this.fault(e, `resources/read ${echoed(req.params.uri)} failed`, ctx);
      }
    });

    // A session's subscriptions are kept in the store (SessionSubscriptions), whichever instance serves
    // them; the instance holding the session's GET stream sends the updates (ResourceUpdates). A URI the
    // key could not read is refused as resources/read refuses it, not taken and never updated.
    server.setRequestHandler('resources/subscribe', async (req, sdk) => {
      const ctx = context(sdk);
      if (!this.mayRead(req.params.uri, ctx.principal)) throw resourceNotFound(req.params.uri);
      if (ctx.sessionId) await this.subscriptions.add(ctx.sessionId, req.params.uri);
      return {};
    });
    server.setRequestHandler('resources/unsubscribe', async (req, sdk) => {
      const sessionId = context(sdk).sessionId;
      if (sessionId) await this.subscriptions.remove(sessionId, req.params.uri);
      return {};
    });

    server.setRequestHandler('prompts/list', (req, sdk) => {
      refuseCursor(req.params?.cursor);
      const principal = context(sdk).principal;
      const prompts = [...this.registry.prompts.values()]
        .filter((p) => mayAccess(p.options.permission, principal))
        .map((p) => ({
          name: p.options.name,
          title: p.options.title,
          description: p.options.description,
          arguments: p.arguments,
        }));
      return { prompts };
    });

    server.setRequestHandler('prompts/get', async (req, sdk) => {
      const ctx = context(sdk);
      const prompt = this.registry.prompts.get(req.params.name);
      if (!prompt || !mayAccess(prompt.options.permission, ctx.principal)) {
        throw new ProtocolError(
          ProtocolErrorCode.InvalidParams,
          `Unknown prompt: ${echoed(req.params.name)}`,
        );
      }
      try {
        return (await prompt.handler(ctx, this.promptArgs(prompt, req.params.arguments))) as never;
      } catch (e) {
        throw this.fault(e, `prompts/get ${prompt.options.name} failed`, ctx);
      }
    });

    server.setRequestHandler('completion/complete', async (req, sdk) => {
      const ctx = context(sdk);
      // A completer's own failure is a fault of ours: logged, and answered without its text.
      try {
        const { ref, argument } = req.params;
        let complete: ((value: string) => string[] | Promise<string[]>) | undefined;
        let fits: (value: string) => boolean = () => true;
        const principal = ctx.principal;
        // Only for what the caller may use: a prompt or template it is not shown is unknown to it, as one
        // that does not exist (-32602, as prompts/get answers it and the completion spec asks).
        if (ref.type === 'ref/prompt') {
          const p = this.registry.prompts.get(ref.name);
          if (!p || !mayAccess(p.options.permission, principal)) {
            throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown prompt: ${echoed(ref.name)}`);
          }
          const names = p.arguments.map((a) => a.name);
          if (!names.includes(argument.name)) {
            throw new ProtocolError(
              ProtocolErrorCode.InvalidParams,
              `Unknown argument "${echoed(argument.name)}" of prompt "${p.options.name}" ` +
                `(it takes ${names.length > 0 ? names.join(', ') : 'none'})`,
            );
          }
          complete = p.options.complete?.[argument.name];
          const given = req.params.context?.arguments;
          if (p.args && given) fits = fitsWithGiven(p.args, given, argument.name);
        } else if (ref.type === 'ref/resource') {
          const t = this.registry.templates.find((r) => r.options.uriTemplate === ref.uri);
          if (t && mayAccess(t.options.permission, principal)) {
            complete = t.options.complete?.[argument.name];
          } else {
            // A fixed resource the key may read has nothing to complete; anything else names nothing.
            const fixed = this.registry.resources.get(ref.uri);
            if (!fixed || !mayAccess(fixed.options.permission, principal)) {
              throw new ProtocolError(
                ProtocolErrorCode.InvalidParams,
                `Unknown resource or resource template: ${echoed(ref.uri)}`,
              );
            }
          }
        }
        const values = complete ? (await complete(argument.value)).filter(fits) : [];
        return {
          completion: {
            values: values.slice(0, COMPLETION_LIMIT),
            total: values.length,
            hasMore: values.length > COMPLETION_LIMIT,
          },
        };
      } catch (e) {
        throw this.fault(e, `completion/complete of ${echoed(req.params.ref.type)} failed`, ctx);
      }
    });

    return server;
  }

  /**
   * What a handler's failure is answered with: a refusal to answer unaudited (or the database
   * down) as 503 with Retry-After (toNodeHandlerWithoutSignalRegistry), a protocol error as it is,
   * anything else as a fault of ours, logged here and answered without its (engine or library) text.
   */
  private fault(e: unknown, what: string, ctx: McpCallContext): ProtocolError {
    if (e instanceof HttpException && e.getStatus() === 503) {
      RequestContext.refuseAsUnavailable(AUDIT_RETRY_AFTER_SECONDS);
      return new ProtocolError(
        ProtocolErrorCode.InternalError,
        `Service unavailable: ${(e.getResponse() as { message?: string }).message ?? 'retry later'}`,
      );
    }
    if (e instanceof ProtocolError) return e;
    this.logger.error({ message: what, requestId: ctx.requestId, error: e }, (e as Error)?.stack);
    return new ProtocolError(
      ProtocolErrorCode.InternalError,
      `Internal error; quote request id ${ctx.requestId} when reporting it`,
    );
  }

  private promptArgs(prompt: RegisteredPrompt, raw: Record<string, string> | undefined): unknown {
    if (!prompt.args) return raw ?? {};
    const parsed = prompt.args.safeParse(raw ?? {});
    if (!parsed.success) {
      const detail = describeFieldErrors(
        fieldErrors(parsed.error, {
          root: '(arguments)',
          known: Object.keys(prompt.args.shape),
          schema: prompt.args,
        }),
      );
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Invalid arguments for prompt "${prompt.options.name}": ${detail}`,
      );
    }
    return parsed.data;
  }

  private context(sdk: ServerContext, era: 'legacy' | 'modern'): McpCallContext {
    const extra = sdk.http?.authInfo?.extra as Partial<RequestAuth> | undefined;
    const progressToken = sdk.mcpReq._meta?.progressToken;
    return {
      principal: extra?.principal,
      requestId: extra?.requestId ?? String(sdk.mcpReq.id),
      sessionId: era === 'legacy' ? extra?.sessionId : undefined,
      signal: sdk.mcpReq.signal,
      era,
      progress: async (progress, total, message) => {
        if (progressToken === undefined) return;
        await sdk.mcpReq.notify({
          method: 'notifications/progress',
          params: { progressToken, progress, total, message },
        });
      },
      log: (level, data) => sdk.mcpReq.log(level, data),
      sdk,
    };
  }
}

/**
 * Every list here is answered in one page, so no cursor was ever issued: one
 * that comes back is invalid (-32602, as the pagination spec asks), not
 * silently taken as "from the start".
 */
function refuseCursor(cursor: unknown): void {
  if (cursor === undefined) return;
  throw new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    'Invalid cursor: this server lists everything in one page and issues no cursors; omit it',
  );
}

/**
 * Whether a completion candidate for `name` goes with the arguments the client has already given
 * (completion's `context.arguments`): the prompt's own schema is run on them with the candidate, and
 * a candidate is dropped when that fails on the candidate or on a given argument (a rule across
 * arguments: a `to` before the given `from`), so no value is offered that prompts/get would refuse.
 * Given arguments that are invalid on their own filter nothing: prompts/get tells the client of them.
 */
function fitsWithGiven(
  schema: ObjectSchema,
  given: Record<string, string>,
  name: string,
): (value: string) => boolean {
  const shape = schema.shape;
  // Own members only: `in` would take a given `constructor` or `toString` for an argument of the prompt.
  const known = Object.fromEntries(
    Object.entries(given).filter(([k]) => k !== name && Object.hasOwn(shape, k)),
  );
  if (Object.entries(known).some(([k, v]) => !z.safeParse(shape[k], v).success)) return () => true;
  const involved = new Set([name, ...Object.keys(known)]);
  return (value) => {
    const parsed = schema.safeParse({ ...known, [name]: value });
    return parsed.success || !parsed.error.issues.some((i) => involved.has(String(i.path[0])));
  };
}

/**
 * A URI that names no resource the key may read. Its `data.uri` is the caller's URI named back in
 * part, as the message is: the whole of one (up to the body limit) would be answered, and kept by
 * the session's event log (the store, in the cluster shape), for every such request.
 */
function resourceNotFound(uri: string): ResourceNotFoundError {
  const named = echoed(uri);
  return new ResourceNotFoundError(named, `Resource not found: ${named}`);
}

/** A name from the caller, named back in part only: a huge one echoed whole would be kept by the session's event log. */
function echoed(name: string): string {
  return name.length > 100 ? `${cutText(name, 100)}...` : wellFormed(name);
}

/** A failed read's stable code for the audit row: an HttpException's `code`, else `internal_error`. */
function errorCodeOf(e: unknown): string {
  if (e instanceof ProtocolError) return 'protocol_error';
  const response = e instanceof HttpException ? e.getResponse() : undefined;
  const code = typeof response === 'object' ? (response as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'internal_error';
}
