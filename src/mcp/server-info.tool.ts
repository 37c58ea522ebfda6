import { Injectable } from '@nestjs/common';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import type { Permission } from '../auth/tokens/permissions';
import { McpRegistry } from './mcp-registry.service';
import { Tool } from './mcp.decorators';

/** The stateless protocol revision served beside the 2025-era ones (SDK v2 modern path). */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';
/**
 * Every session revision the SDK negotiates here (2025-11-25 down to
 * 2024-10-07: older clients are served, JSON-RPC batches included; see README).
 */
const LEGACY_SERVED = [...SUPPORTED_PROTOCOL_VERSIONS];

/** The connector each connector permission belongs to: a connector is listed once a tool of it is registered. */
const CONNECTOR_OF: Partial<Record<Permission, string>> = {
  'xero:read': 'xero',
  'shopify:read': 'shopify',
  'unleashed:read': 'unleashed',
  'ai:invoke': 'ai',
};

@Injectable()
export class ServerInfoTool {
  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly registry: McpRegistry,
  ) {}

  @Tool({
    name: 'server_info',
    title: 'Server information',
    description:
      'Describes this Sentia MCP server: name, version, the MCP protocol versions it serves, ' +
      'the storage shape it runs in and the business-system connectors available to it.',
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  })
  serverInfo() {
    return {
      name: this.config.appName,
      version: this.config.appVersion,
      protocolVersions: [MODERN_PROTOCOL_VERSION, ...LEGACY_SERVED],
      shape: this.config.redisUrl ? 'cluster' : 'embedded',
      connectors: this.connectors(),
    };
  }

  private connectors(): string[] {
    const names = new Set<string>();
    for (const tool of this.registry.tools.values()) {
      const connector = tool.options.permission && CONNECTOR_OF[tool.options.permission];
      if (connector) names.add(connector);
    }
    return [...names].sort();
  }
}
