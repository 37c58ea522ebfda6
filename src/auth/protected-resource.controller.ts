import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { InjectConfig } from '../config/config.module';
import type { AppConfig } from '../config/config.types';
import { Public } from '../common/public.decorator';
import { PERMISSIONS } from './tokens/permissions';

export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported: string[];
  bearer_methods_supported: string[];
  resource_name: string;
  resource_documentation: string;
}

/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728), where every 401's
 * `WWW-Authenticate: Bearer resource_metadata=...` points. `resource` is the
 * audience the API-key tokens carry (PUBLIC_BASE_URL); the `/mcp` variant is
 * the path-suffixed well-known URL MCP clients try first.
 */
@ApiTags('auth')
@Public()
@Controller('.well-known/oauth-protected-resource')
export class ProtectedResourceController {
  private readonly metadata: ProtectedResourceMetadata;

  constructor(@InjectConfig() config: AppConfig) {
    this.metadata = {
      resource: config.publicBaseUrl,
      authorization_servers: [...config.authorizationServers],
      scopes_supported: [...PERMISSIONS],
      bearer_methods_supported: ['header'],
      resource_name: 'Sentia MCP',
      resource_documentation: `${config.publicBaseUrl}/docs`,
    };
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
    return this.metadata;
  }
}
