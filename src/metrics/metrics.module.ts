import { Global, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { McpModule } from '../mcp/mcp.module';
import { HttpMetricsMiddleware } from './http-metrics.middleware';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';
import { ToolCallMetricsHook } from './tool-call-metrics.hook';

/**
 * Prometheus metrics (global): MetricsService for every module to record
 * through, HTTP request metrics for every route, the tool-call hook, and
 * `GET /metrics`. Add it to AppModule's imports.
 */
@Global()
@Module({
  imports: [McpModule],
  controllers: [MetricsController],
  providers: [MetricsService, HttpMetricsMiddleware, ToolCallMetricsHook],
  exports: [MetricsService],
})
export class MetricsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('{*path}');
  }
}
