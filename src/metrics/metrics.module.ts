import { Global, Module } from '@nestjs/common';
import { McpModule } from '../mcp/mcp.module';
import { HttpMetricsMiddleware } from './http-metrics.middleware';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';
import { ToolCallMetricsHook } from './tool-call-metrics.hook';

/**
 * Prometheus metrics (global): MetricsService for every module to record
 * through, HTTP request metrics (HttpMetricsMiddleware, which createApp
 * installs before the Origin gate and the per-IP limit, so their answers are
 * counted too), the tool-call hook, and `GET /metrics`. Add it to AppModule's imports.
 */
@Global()
@Module({
  imports: [McpModule],
  controllers: [MetricsController],
  providers: [MetricsService, HttpMetricsMiddleware, ToolCallMetricsHook],
  exports: [MetricsService],
})
export class MetricsModule {}
