import { DynamicModule, Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { AuditRequestMiddleware } from './audit-request-context';
import { AuditController } from './audit.controller';
import { AUDIT_OPTIONS, AuditOptions, resolveAuditOptions } from './audit.options';
import { AuditService } from './audit.service';
import { AuditWriter } from './audit.writer';
import { SecurityEventLimits } from './security-event.limiter';
import { SecurityEventRecorder } from './security-event.recorder';
import { McpAuditHooks } from './mcp-audit.hooks';
import { AuditRetention } from './audit-retention.service';

export type AuditModuleOptions = Partial<Omit<AuditOptions, 'spoolDir' | 'securityEvents'>> & {
  /** Default: AppConfig.dataDir. */
  spoolDir?: string;
  /** Default: DEFAULT_SECURITY_EVENT_LIMITS (20 per source and code, 1000 in all, per minute). */
  securityEvents?: Partial<SecurityEventLimits>;
  /** Run AUDIT_RETENTION_MONTHS's pruning in this process (default true; the command line passes false). */
  scheduleRetention?: boolean;
};

/**
 * The audit trail: AuditWriter (group commit, hash chain, spool), the
 * tool-call hook, the global AuditInterceptor for /admin and /credentials,
 * security events (SecurityEventRecorder.report, fire and forget and
 * flood-limited; AuditService.securityEvent, awaitable) and GET /admin/audit[/export].
 * Needs ConfigModule and DatabaseModule (both global).
 *
 *   AuditModule.forRoot({ mode: config.audit.mode, storeArgs: ..., batchWindowMs: ..., batchMaxRows: ... })
 *
 * `replaySpoolOnBoot: false` (the command line) leaves a spool found in DATA_DIR alone at startup.
 */
@Global()
@Module({})
export class AuditModule implements NestModule {
  static forRoot(options: AuditModuleOptions = {}): DynamicModule {
    return {
      module: AuditModule,
      controllers: [AuditController],
      providers: [
        {
          provide: AUDIT_OPTIONS,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig): AuditOptions =>
            resolveAuditOptions({ ...options, spoolDir: options.spoolDir ?? config.dataDir }),
        },
        AuditWriter,
        AuditService,
        SecurityEventRecorder,
        McpAuditHooks,
        AuditRequestMiddleware,
        ...(options.scheduleRetention === false ? [] : [AuditRetention]),
      ],
      exports: [AuditWriter, AuditService, SecurityEventRecorder],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(AuditRequestMiddleware).forRoutes('{*path}');
  }
}
