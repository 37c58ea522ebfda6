import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { LegacySessions } from './legacy-sessions.service';
import { McpController } from './mcp.controller';
import { McpHttpService } from './mcp-http.service';
import { McpRegistry } from './mcp-registry.service';
import { McpServerFactory } from './mcp-server.factory';
import { ResourceReadHooks } from './resource-read-hooks';
import { ResourceUpdates } from './resource-updates.service';
import { SessionSubscriptions } from './session-subscriptions';
import { ServerInfoTool } from './server-info.tool';
import { ToolPipeline } from './tool-pipeline.service';

/**
 * The MCP surface: discovers @Tool/@Resource/@Prompt methods on every
 * provider in the application, serves them at /mcp to both protocol eras, and
 * runs every tool call through the one ToolPipeline.
 */
@Module({
  imports: [DiscoveryModule],
  controllers: [McpController],
  providers: [
    McpRegistry,
    ToolPipeline,
    ResourceReadHooks,
    McpServerFactory,
    SessionSubscriptions,
    LegacySessions,
    ResourceUpdates,
    McpHttpService,
    ServerInfoTool,
  ],
  exports: [ToolPipeline, ResourceReadHooks, McpRegistry, LegacySessions, ResourceUpdates],
})
export class McpModule {}
