import { DynamicModule, Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { AuditRequestMiddleware } from './audit-request-context';
import { AuditController } from './audit.controller';
import { AuditInterceptor } from './audit.interceptor';
import { AUDIT_OPTIONS, AuditOptions, resolveAuditOptions } from './audit.options';
import { AuditService } from './audit.service';
import { AuditWriter } from './audit.writer';
import { ToolCallAuditHook } from './tool-call-audit.hook';

export type AuditModuleOptions = Partial<Omit<AuditOptions, 'spoolDir'>> & {
  /** Default: AppConfig.dataDir. */
  spoolDir?: string;
};

/**
 * The audit trail: AuditWriter (group commit, hash chain, spool), the
 * tool-call hook, the global AuditInterceptor for /admin and /credentials,
 * security events (AuditService.securityEvent) and GET /admin/audit[/export].
 * Needs ConfigModule and DatabaseModule (both global).
 *
 *   AuditModule.forRoot({ mode: config.audit.mode, storeArgs: ..., batchWindowMs: ..., batchMaxRows: ... })
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
        ToolCallAuditHook,
        AuditRequestMiddleware,
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
      ],
      exports: [AuditWriter, AuditService],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(AuditRequestMiddleware).forRoutes('{*path}');
  }
}
