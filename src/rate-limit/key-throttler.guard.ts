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
  rateLimitBody,
  requestPath,
  setRateLimitHeaders,
  toDecision,
} from './rate-limit-decision';
import { RateLimitEvents } from './rate-limit-events';
import { StoreThrottlerStorage } from './store-throttler.storage';
import { messagesIn } from '../mcp/json-rpc-batch';

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
 * A JSON-RPC batch counts as many requests as it holds messages.
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
    // A JSON-RPC batch (2025-03-26 clients on /mcp, however its path is spelt) counts one request per
    // message it holds; an array sent anywhere else is refused by its route all the same.
    const hits = req.method === 'POST' ? messagesIn(req.body) : 1;
    const record = await this.storage.increment(
      generateKey(context, tracker, name),
      ttl,
      limit,
      blockDuration,
      name,
      hits,
    );
    const decision = toDecision('key', limit, record);
    setRateLimitHeaders(req, res, decision);
    if (!decision.exceeded) return true;
    this.events.refused(req, res, decision, clientAddress(req), tracker);
    throw new HttpException(rateLimitBody(req, decision), HttpStatus.TOO_MANY_REQUESTS);
  }
}
