import { DynamicModule, Module } from '@nestjs/common';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { ConfigModule } from './config/config.module';
import { ConnectorsModule } from './connectors/connectors.module';
import type { AppConfig } from './config/config.types';
import { CredentialsModule } from './credentials/credentials.module';
import { ConformanceFixturesModule } from './conformance/conformance-fixtures.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { McpModule } from './mcp/mcp.module';
import { MetricsModule } from './metrics/metrics.module';
import { ObservabilityModule } from './observability/observability.module';
import { RateLimitModule } from './rate-limit/rate-limit.module';
import { StoreModule } from './store/store.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        ObservabilityModule.forRoot(),
        DatabaseModule.forRoot(),
        StoreModule.forRoot(),
        AuthModule,
        RateLimitModule,
        CredentialsModule,
        AuditModule.forRoot(config.audit),
        HealthModule,
        McpModule,
        MetricsModule,
        ConnectorsModule,
        // Test fixtures for the MCP conformance suite; refused in production by loadConfig.
        ...(config.mcp.conformanceFixtures ? [ConformanceFixturesModule] : []),
      ],
    };
  }
}
