import { Injectable } from '@nestjs/common';
import type { Principal } from '../../auth/principal';
import type { ToolContext } from '../../mcp/mcp-context';
import type { UpstreamService } from './upstream.errors';

/**
 * What a connector offers the admin API's live check (`POST
 * /admin/connectors/:service/check`), registered by the connector's own
 * `*.health.ts` next to its client, so this module knows no connector.
 */
export interface ConnectorCheck {
  readonly service: UpstreamService;
  /**
   * The origins this instance keeps the service's circuit breakers under, when
   * they are known without reading the stored credentials; undefined when they
   * are not (each Shopify shop is its own host, named only in the credentials).
   */
  origins(): string[] | undefined;
  /**
   * One cheap, read-only upstream call with the organisation's stored
   * credentials, through the connector's usual path (UpstreamHttp, the
   * credentials, quotas, tokens), never through the answer cache. Resolves to
   * a short detail a person reads; fails with the same ToolError (an
   * UpstreamError, its stable code and message) a tool would.
   */
  check(ctx: ToolContext): Promise<string>;
}

/** The connectors' checks, by service. Each registers itself when its module starts. */
@Injectable()
export class ConnectorChecks {
  private readonly checks = new Map<UpstreamService, ConnectorCheck>();

  register(check: ConnectorCheck): void {
    if (this.checks.has(check.service))
      throw new Error(`ConnectorChecks: a check for ${check.service} is registered already`);
    this.checks.set(check.service, check);
  }

  get(service: UpstreamService): ConnectorCheck | undefined {
    return this.checks.get(service);
  }
}

/**
 * The context a connector client is called with from the admin API: the
 * admin's principal (its organisation's credentials are used), the request id
 * and a signal that aborts when the admin's client goes away. There is no MCP
 * request behind it: progress and log notifications go nowhere, and reading
 * `sdk` (which no connector does) throws rather than pretend there is one.
 */
export function adminCallContext(principal: Principal, requestId: string, signal: AbortSignal): ToolContext {
  return {
    principal,
    requestId,
    signal,
    era: 'modern',
    progress: () => Promise.resolve(),
    log: () => Promise.resolve(),
    get sdk(): never {
      throw new Error('an admin check has no MCP request context');
    },
  };
}
