import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysModule } from './api-keys.module';
import { AuthEventsReporter } from './auth-events.reporter';
import { AuthGuard } from './auth.guard';
import { KeyUsageRecorder } from './key-usage.recorder';
import { KnownKeysCache } from './known-keys.cache';
import { ProtectedResourceController } from './protected-resource.controller';
import { RevocationService } from './revocation.service';

/**
 * Authentication for the whole application: the global AuthGuard (every
 * route needs an API key unless @Public), the revoked-key set, key-use
 * recording, the admin API under /admin/api-keys and the RFC 9728 document.
 * Add it to AppModule's imports. Needs the global AuditModule (the admin
 * actions and security events are audited) and MetricsModule.
 */
@Module({
  imports: [ApiKeysModule],
  controllers: [ApiKeysController, ProtectedResourceController],
  providers: [
    RevocationService,
    KnownKeysCache,
    KeyUsageRecorder,
    AuthEventsReporter,
    AuthGuard,
    { provide: APP_GUARD, useExisting: AuthGuard },
  ],
  exports: [ApiKeysModule, RevocationService, KeyUsageRecorder],
})
export class AuthModule {}
