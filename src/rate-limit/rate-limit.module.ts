import { Module } from '@nestjs/common';
import { ThrottlerModule, ThrottlerModuleOptions } from '@nestjs/throttler';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { IpRateLimitMiddleware } from './ip-rate-limit.middleware';
import { KEY_THROTTLER, KeyThrottlerGuard } from './key-throttler.guard';
import { KeyRateLimitCheck } from './key-rate-limit.check';
import { RATE_LIMIT_WINDOW_MS } from './rate-limit-decision';
import { RateLimitEvents } from './rate-limit-events';
import { RateLimitStorageModule } from './rate-limit-storage.module';
import { StoreThrottlerStorage } from './store-throttler.storage';

/**
 * Rate limits, in this order on every request:
 *
 *   1. per IP   (RATE_LIMIT_IP_MAX/min)  IpRateLimitMiddleware   mounted by app.factory before the body
 *                                         parser, so a flood is refused before its body is read
 *   2. authentication                     AuthGuard (src/auth)    global guard
 *   3. per key  (RATE_LIMIT_MAX/min)     KeyThrottlerGuard       a check the AuthGuard runs right after
 *                                         authentication (KeyRateLimitCheck)
 *
 * The order comes from Nest's request lifecycle (middleware → guards) and
 * from the AuthGuard itself, not from the order modules register global guards in.
 * Counting is in fixed one-minute windows in the KeyValueStore (Redis in the
 * cluster shape, shared by every instance); if the store fails, per instance.
 * `/health`, `/health/*` and `/metrics` are exempt from both limits.
 *
 * Requires ConfigModule, StoreModule and MetricsModule (all global).
 */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      imports: [RateLimitStorageModule],
      inject: [APP_CONFIG, StoreThrottlerStorage],
      useFactory: (config: AppConfig, storage: StoreThrottlerStorage): ThrottlerModuleOptions => ({
        throttlers: [
          { name: KEY_THROTTLER, limit: config.rateLimit.perKeyPerMinute, ttl: RATE_LIMIT_WINDOW_MS },
        ],
        storage,
      }),
    }),
  ],
  providers: [RateLimitEvents, KeyThrottlerGuard, IpRateLimitMiddleware, KeyRateLimitCheck],
  exports: [IpRateLimitMiddleware],
})
export class RateLimitModule {}
