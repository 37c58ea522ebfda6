import { DynamicModule, Module } from '@nestjs/common';
import { ApiKeysModule } from '../auth/api-keys.module';
import { AuditModule } from '../audit/audit.module';
import { ConfigModule } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { CredentialsModule } from '../credentials/credentials.module';
import { DatabaseModule } from '../database/database.module';
import { StoreModule } from '../store/store.module';

/**
 * What the command line needs: the same configuration, database (migrations
 * run at boot as in the server, unless RUN_MIGRATIONS=false) and store (so a
 * revocation is published to running servers) as the server; no HTTP.
 */
@Module({})
export class CliModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: CliModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot({ retryAttempts: 1 }),
        StoreModule.forRoot(),
        // A server may be spooling into the same DATA_DIR right now: its spool and journals are not the
        // CLI's to replay. A short-lived command writes its records straight to the database.
        AuditModule.forRoot({
          ...config.audit,
          durability: 'database',
          replaySpoolOnBoot: false,
          scheduleRetention: false,
        }),
        ApiKeysModule,
        CredentialsModule,
      ],
    };
  }
}
