import { CallHandler, ExecutionContext, HttpException, Injectable, NestInterceptor } from '@nestjs/common';
import { from, Observable, switchMap } from 'rxjs';
import { KeyThrottlerGuard } from './key-throttler.guard';
import { RateLimitEvents } from './rate-limit-events';

/**
 * Runs the per-key limit (KeyThrottlerGuard) for every route. An interceptor
 * because Nest's request lifecycle runs every guard before any interceptor:
 * the global AuthGuard has set the principal by now, whatever the order in
 * which modules register their global guards. A 429 is thrown as an
 * HttpException; any other failure of the limiter admits the request.
 */
@Injectable()
export class KeyRateLimitInterceptor implements NestInterceptor {
  constructor(
    private readonly keyLimit: KeyThrottlerGuard,
    private readonly events: RateLimitEvents,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    return from(this.check(context)).pipe(switchMap(() => next.handle()));
  }

  private async check(context: ExecutionContext): Promise<void> {
    try {
      await this.keyLimit.canActivate(context);
    } catch (err) {
      if (err instanceof HttpException) throw err;
      this.events.limiterFailed('key', err);
    }
  }
}
