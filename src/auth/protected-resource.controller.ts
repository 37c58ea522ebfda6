import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { Public } from '../common/public.decorator';
import { PERMISSIONS } from './tokens/permissions';

export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers?: string[];
  scopes_supported: string[];
  bearer_methods_supported: string[];
  resource_name: string;
  resource_documentation?: string;
}

/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728), where every 401's
 * `WWW-Authenticate: Bearer resource_metadata=...` points. `resource` is the
 * resource the well-known URL was derived from (RFC 9728 §3.3): the server
 * (PUBLIC_BASE_URL, the audience the API-key tokens carry) at the root, and
 * its MCP endpoint (`/mcp`) at the path-suffixed URL MCP clients try first.
 * `authorization_servers` appears only when AUTHORIZATION_SERVERS names some
 * (API keys need none), and `resource_documentation` only where /docs is
 * served (API_DOCS).
 */
@ApiTags('auth')
@Public()
@Controller('.well-known/oauth-protected-resource')
export class ProtectedResourceController {
  private readonly metadata: ProtectedResourceMetadata;
  private readonly mcpMetadata: ProtectedResourceMetadata;

  constructor(@InjectConfig() config: AppConfig) {
    this.metadata = {
      resource: config.publicBaseUrl,
      ...(config.authorizationServers.length > 0
        ? { authorization_servers: [...config.authorizationServers] }
        : {}),
      scopes_supported: [...PERMISSIONS],
      bearer_methods_supported: ['header'],
      resource_name: 'Sentia MCP',
      ...(config.apiDocs ? { resource_documentation: `${config.publicBaseUrl}/docs` } : {}),
    };
    this.mcpMetadata = { ...this.metadata, resource: `${config.publicBaseUrl}/mcp` };
  }

  @Get()
  @Header('Cache-Control', 'public, max-age=3600')
  @ApiOperation({ summary: 'OAuth protected resource metadata (RFC 9728)' })
  @ApiOkResponse({ description: 'The metadata document' })
  document(): ProtectedResourceMetadata {
    return this.metadata;
  }

  @Get('mcp')
  @Header('Cache-Control', 'public, max-age=3600')
  @ApiOperation({ summary: 'OAuth protected resource metadata for /mcp (RFC 9728)' })
  @ApiOkResponse({ description: 'The metadata document' })
  mcpDocument(): ProtectedResourceMetadata {
    return this.mcpMetadata;
  }
}
