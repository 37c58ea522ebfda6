import { Module } from '@nestjs/common';
import { StoreThrottlerStorage } from './store-throttler.storage';

/**
 * Holds the one StoreThrottlerStorage of the application, so ThrottlerModule's
 * options factory can inject it (RateLimitModule imports this for it).
 * Needs the global KeyValueStore and MetricsService.
 */
@Module({
  providers: [StoreThrottlerStorage],
  exports: [StoreThrottlerStorage],
})
export class RateLimitStorageModule {}
