import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.types';
import type { ToolContext } from '../../mcp/mcp-context';
import { ConnectorCheck, ConnectorChecks } from '../http/connector-checks';
import { XeroClient } from './xero-client.service';

/**
 * Xero's admin check: GET /connections with the organisation's token (got or
 * refreshed as for any call, the rotated refresh token stored first), which
 * costs no tenant's quota and says whether the credentials work and which
 * tenants they reach.
 */
@Injectable()
export class XeroHealth implements ConnectorCheck, OnModuleInit {
  readonly service = 'xero';

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly client: XeroClient,
    private readonly checks: ConnectorChecks,
  ) {}

  onModuleInit(): void {
    this.checks.register(this);
  }

  origins(): string[] {
    const { xeroIdentity, xeroApi } = this.config.connectors.baseUrls;
    return [...new Set([new URL(xeroIdentity).origin, new URL(xeroApi).origin])];
  }

  async check(ctx: ToolContext): Promise<string> {
    const { connected, allowed } = await this.client.checkTenants(ctx);
    if (connected === 0)
      return 'Xero accepted the credentials, but no tenant (organisation) is connected to the app, so the tools have none to read';
    const tenants = `${connected} tenant${connected === 1 ? '' : 's'} connected`;
    if (allowed.length === connected) return `Xero accepted the credentials; ${tenants}`;
    return `Xero accepted the credentials; ${tenants}, ${allowed.length} of them among the stored tenantIds`;
  }
}
