import { Injectable, NestMiddleware } from '@nestjs/common';
import { InjectThrottlerStorage, normalizeIp, ThrottlerStorage } from '@nestjs/throttler';
import type { NextFunction, Request, Response } from 'express';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import {
  isExemptPath,
  RATE_LIMIT_WINDOW_MS,
  rateLimitBody,
  rememberIpDecision,
  requestPath,
  setRateLimitHeaders,
  toDecision,
} from './rate-limit-decision';
import { RateLimitEvents } from './rate-limit-events';

/** IPv6 clients are counted per /64, as @nestjs/throttler does (one host usually owns the whole /64). */
const IPV6_SUBNET_PREFIX = 64;

/** The store key of a client address: `rl:ip:<ip>` (the storage appends `:<window>`). */
export function ipLimitKey(ip: string): string {
  return `rl:ip:${ip}`;
}

/** The address a request is counted under (`req.ip`, so `trust proxy` decides; IPv6 by /64). */
export function clientAddress(req: Request): string {
  return normalizeIp(req.ip ?? req.socket?.remoteAddress ?? 'unknown', IPV6_SUBNET_PREFIX) ?? 'unknown';
}

/**
 * The per-IP limit (RATE_LIMIT_IP_MAX a minute, default 100). A middleware,
 * not a guard, because middleware runs before every guard in Nest's request
 * lifecycle: the limit therefore applies before authentication, to requests
 * without a key, with a bad key, and to unknown routes alike. Exempt: the
 * probe paths (see `isExemptPath`).
 *
 * Over the limit: 429 with Retry-After and a JSON body naming the `ip` limit
 * (a JSON-RPC error on /mcp). A failure of the limiter admits the request.
 */
@Injectable()
export class IpRateLimitMiddleware implements NestMiddleware {
  private readonly limit: number;
  private readonly metricsPublic: boolean;

  constructor(
    @InjectThrottlerStorage() private readonly storage: ThrottlerStorage,
    private readonly events: RateLimitEvents,
    @InjectConfig() config: AppConfig,
  ) {
    this.limit = config.rateLimit.perIpPerMinute;
    this.metricsPublic = config.metricsPublic;
  }

  use(req: Request, res: Response, next: NextFunction): void {
    if (isExemptPath(requestPath(req), this.metricsPublic)) return next();
    this.check(req, res).then(
      (admitted) => admitted && next(),
      (err: unknown) => {
        this.events.limiterFailed('ip', err);
        next();
      },
    );
  }

  private async check(req: Request, res: Response): Promise<boolean> {
    const ip = clientAddress(req);
    const record = await this.storage.increment(
      ipLimitKey(ip),
      RATE_LIMIT_WINDOW_MS,
      this.limit,
      RATE_LIMIT_WINDOW_MS,
      'ip',
    );
    const decision = toDecision('ip', this.limit, record);
    rememberIpDecision(req, decision);
    setRateLimitHeaders(req, res, decision);
    if (!decision.exceeded) return true;
    this.events.refused(req, res, decision, ip);
    res.status(429).json(rateLimitBody(req, decision));
    return false;
  }
}
