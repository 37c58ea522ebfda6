import { ExecutionContext, HttpException, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  ThrottlerModuleOptions,
  ThrottlerRequest,
} from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { PRINCIPAL_REQUEST_KEY, RequestWithPrincipal } from '../auth/principal';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { clientAddress } from './ip-rate-limit.middleware';
import {
  isExemptPath,
  RATE_LIMIT_WINDOW_MS,
  rateLimitBody,
  requestPath,
  setRateLimitHeaders,
  toDecision,
} from './rate-limit-decision';
import { RateLimitEvents } from './rate-limit-events';
import { StoreThrottlerStorage } from './store-throttler.storage';

/** The name of the per-key throttler in ThrottlerModule's options (and of `@Throttle({ key: ... })`). */
export const KEY_THROTTLER = 'key';

/** The store key of an API key's counter: `rl:key:<keyId>` (the storage appends `:<window>`). */
export function keyLimitKey(keyId: string): string {
  return `rl:key:${keyId}`;
}

/**
 * The per-key limit (RATE_LIMIT_MAX a minute, default 1000): @nestjs/throttler's
 * guard tracking the authenticated principal's key id, one counter per key
 * across every route. Requests without a principal (public routes) and the
 * probe paths are not counted; `@SkipThrottle({ key: true })` and
 * `@Throttle({ key: { limit, ttl } })` work as the library documents.
 *
 * NOT registered as a guard: Nest does not promise an order among global
 * guards, and this one must run after the AuthGuard has set the principal.
 * KeyRateLimitCheck calls it from the AuthGuard, right after authentication.
 *
 * A JSON-RPC batch counts as many requests as it holds messages: the MCP
 * layer charges the rest (`chargeBatch`) once it knows the batch is served.
 *
 * Over the limit: 429 with Retry-After and a JSON body naming the `key` limit
 * (a JSON-RPC error on /mcp); the RateLimit-* headers report the tighter of
 * the IP and key limits.
 */
@Injectable()
export class KeyThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() private readonly storage: StoreThrottlerStorage,
    reflector: Reflector,
    private readonly events: RateLimitEvents,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    super(options, storage, reflector);
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<Request & RequestWithPrincipal>();
    return !req[PRINCIPAL_REQUEST_KEY] || isExemptPath(requestPath(req), this.config.metricsPublic);
  }

  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    return (req as RequestWithPrincipal)[PRINCIPAL_REQUEST_KEY]!.keyId;
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return name === KEY_THROTTLER ? keyLimitKey(tracker) : `rl:${name}:${tracker}`;
  }

  protected override async handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, getTracker, generateKey } = props;
    const req = context.switchToHttp().getRequest<Request>();
    const res = context.switchToHttp().getResponse<Response>();
    const name = throttler.name ?? KEY_THROTTLER;
    const tracker = await getTracker(req, context);
    const record = await this.storage.increment(
      generateKey(context, tracker, name),
      ttl,
      limit,
      blockDuration,
      name,
    );
    const decision = toDecision('key', limit, record);
    setRateLimitHeaders(req, res, decision);
    if (!decision.exceeded) return true;
    this.events.refused(req, res, decision, clientAddress(req), tracker);
    throw new HttpException(rateLimitBody(req, decision), HttpStatus.TOO_MANY_REQUESTS);
  }

  /**
   * Charges the other messages of a JSON-RPC batch that is about to be served
   * (the request itself counted at authentication). Undefined when the key's
   * limit admits them; else the JSON-RPC answer to give, with its headers set:
   * 400 for a batch larger than the key may ever send in a window, 429 when
   * this window has too little left, the batch then costing one request, as
   * any refused request does.
   */
  async chargeBatch(
    req: Request,
    res: Response,
    messages: number,
  ): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
    const principal = (req as Request & RequestWithPrincipal)[PRINCIPAL_REQUEST_KEY];
    const extra = messages - 1;
    if (!principal || extra <= 0) return undefined;
    const limit = this.config.rateLimit.perKeyPerMinute;
    if (messages > limit) {
      const message =
        `Invalid Request: a batch of ${messages} messages is more than this key may send in a minute ` +
        `(${limit} requests); send smaller batches`;
      return { status: 400, body: { jsonrpc: '2.0', id: null, error: { code: -32600, message } } };
    }
    const key = keyLimitKey(principal.keyId);
    const window = [RATE_LIMIT_WINDOW_MS, limit, RATE_LIMIT_WINDOW_MS, KEY_THROTTLER] as const;
    const record = await this.storage.increment(key, ...window, extra);
    const decision = toDecision('key', limit, record);
    if (!decision.exceeded) {
      setRateLimitHeaders(req, res, decision);
      return undefined;
    }
    // Refused whole: only the request itself stays counted.
    await this.storage.increment(key, ...window, -extra);
    const refused = { ...decision, remaining: 0, firstRefusal: record.totalHits - extra <= limit };
    setRateLimitHeaders(req, res, refused);
    this.events.refused(req, res, refused, clientAddress(req), principal.keyId);
    return { status: 429, body: rateLimitBody(req, refused) };
  }
}
