import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeyTokenService } from './tokens/api-key-token.service';
import { ApiKey } from './api-key.entity';
import { ApiKeyRepository } from './api-key.repository';
import { ApiKeysService } from './api-keys.service';
import { RevocationNotifier } from './revocation.notifier';
import { SharedKnownKeys } from './shared-known-keys';

/**
 * API-key records and their administration, without HTTP: the command line
 * imports this module alone; AuthModule adds the guard and the controllers.
 * Needs the global ConfigModule, DatabaseModule, StoreModule and AuditModule
 * (every key change is audited in its own transaction, from REST and CLI alike).
 */
@Module({
  imports: [TypeOrmModule.forFeature([ApiKey])],
  providers: [ApiKeyRepository, ApiKeyTokenService, RevocationNotifier, SharedKnownKeys, ApiKeysService],
  exports: [ApiKeysService, ApiKeyTokenService, ApiKeyRepository, RevocationNotifier, SharedKnownKeys],
})
export class ApiKeysModule {}
