import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectConfig } from '../../config/config.module';
import type { AppConfig } from '../../config/config.types';
import type { ToolContext } from '../../mcp/mcp-context';
import { ConnectorCheck, ConnectorChecks } from '../http/connector-checks';
import { UnleashedClient } from './unleashed.client';

/**
 * Unleashed's admin check: the first page of one product (`GET
 * /Products/1?pageSize=1`, signed). Unleashed has no endpoint that reads
 * nothing; this is its smallest signed read. It counts against the monthly
 * quota this server keeps (UNLEASHED_MONTHLY_QUOTA) like any request.
 */
@Injectable()
export class UnleashedHealth implements ConnectorCheck, OnModuleInit {
  readonly service = 'unleashed';

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly client: UnleashedClient,
    private readonly checks: ConnectorChecks,
  ) {}

  onModuleInit(): void {
    this.checks.register(this);
  }

  origins(): string[] {
    return [new URL(this.config.connectors.baseUrls.unleashed).origin];
  }

  async check(ctx: ToolContext): Promise<string> {
    await this.client.list(ctx, 'Products', { page: 1, pageSize: 1 }, {});
    return 'Unleashed is reachable and accepted the request signature';
  }
}
