import { ExecutionContext, HttpException, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AuthenticatedRequestCheck, AuthGuard } from '../auth/auth.guard';
import { findProvider } from '../common/find-provider';
import { KeyThrottlerGuard } from './key-throttler.guard';
import { RateLimitEvents } from './rate-limit-events';

/**
 * Runs the per-key limit (KeyThrottlerGuard) on every authenticated request,
 * as a check of the global AuthGuard: right after authentication, when the
 * principal is known. Not a guard of its own (Nest promises no order among
 * global guards) and not a global interceptor: Nest binds every interceptor
 * of a route into the request's async context (AsyncResource.bind), and on
 * Node 20 each bound function and what it holds (the request) outlives the
 * young-generation collection; one interceptor on every route made /mcp
 * markedly slower. A 429 is thrown as an HttpException; any other failure
 * of the limiter admits the request.
 */
@Injectable()
export class KeyRateLimitCheck implements AuthenticatedRequestCheck, OnModuleInit {
  private readonly logger = new Logger(KeyRateLimitCheck.name);

  constructor(
    private readonly keyLimit: KeyThrottlerGuard,
    private readonly events: RateLimitEvents,
    private readonly moduleRef: ModuleRef,
  ) {}

  onModuleInit(): void {
    const guard = findProvider(this.moduleRef, AuthGuard);
    if (guard) guard.addCheck(this);
    else this.logger.warn('No AuthGuard in this application: the per-key rate limit is not applied');
  }

  async afterAuthentication(context: ExecutionContext): Promise<void> {
    try {
      await this.keyLimit.canActivate(context);
    } catch (err) {
      if (err instanceof HttpException) throw err;
      this.events.limiterFailed('key', err);
    }
  }
}
