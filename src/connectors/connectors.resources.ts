import { Injectable } from '@nestjs/common';
import type { ReadResourceResult } from '@modelcontextprotocol/server';
import type { Principal } from '../auth/principal';
import { hasPermission, Permission } from '../auth/tokens/permissions';
import type { McpCallContext } from '../mcp/mcp-context';
import { Resource } from '../mcp/mcp.decorators';
import { McpRegistry } from '../mcp/mcp-registry.service';
import { mayAccess } from '../mcp/tool-pipeline.service';
import { ConnectorHealth } from './connector-health.service';
import type { UpstreamService } from './http/upstream.errors';

export const CONNECTORS_URI = 'sentia://connectors';

/**
 * Each service's permission and the prefix of its tools' names. A test
 * (mcp-prompts-resources e2e) holds every connector tool to exactly one of
 * these, so a tool added under another name fails it rather than go unlisted.
 */
export const CONNECTOR_SERVICE_TOOLS: Record<
  UpstreamService,
  { permission: Permission; toolPrefix: string }
> = {
  xero: { permission: 'xero:read', toolPrefix: 'xero_' },
  shopify: { permission: 'shopify:read', toolPrefix: 'shopify_' },
  unleashed: { permission: 'unleashed:read', toolPrefix: 'unleashed_' },
  anthropic: { permission: 'ai:invoke', toolPrefix: 'ai_anthropic_' },
  openai: { permission: 'ai:invoke', toolPrefix: 'ai_openai_' },
};

/** One service as the resource shows it. */
export interface ConnectorView {
  service: UpstreamService;
  permission: Permission;
  /** The organisation's credentials are stored (`updatedAt` only for a key that holds credentials:read). */
  credentials: { stored: boolean; updatedAt?: string | null };
  /** The answering instance's circuit breaker (`unknown` for Shopify's per-shop one). */
  circuit: { state: string; retryAfterSeconds: number | null };
  /** Whether a tool call can be expected to reach the service now: credentials stored and circuit not open. */
  ready: boolean;
  /** This server's tools for the service that the caller's key may call. */
  tools: string[];
}

/**
 * `sentia://connectors`: for the caller's organisation, each service whose
 * permission the caller's key holds, with whether the organisation's
 * credentials are stored (metadata only, from ConnectorHealth.list, as
 * `GET /admin/connectors` shows it) and the tools the key may call for it.
 * Services the key may not use are left out, as tools/list leaves out their
 * tools: a key scoped to Shopify learns nothing of the organisation's Xero.
 */
@Injectable()
export class ConnectorsResource {
  constructor(
    private readonly health: ConnectorHealth,
    private readonly registry: McpRegistry,
  ) {}

  @Resource({
    uri: CONNECTORS_URI,
    name: 'connectors',
    title: 'Connectors available to this key',
    description:
      "For the caller's organisation: each business system this key may use (xero, shopify, unleashed, " +
      'anthropic, openai), whether the organisation has stored credentials for it, its circuit state, ' +
      'and the tools the key may call for it. Read it first to know which tools will work.',
    mimeType: 'application/json',
  })
  async read(ctx: McpCallContext): Promise<ReadResourceResult> {
    const principal = ctx.principal;
    const services = principal ? await this.view(principal) : [];
    const body = {
      organizationId: principal?.organizationId ?? null,
      services,
      note:
        'Only services this key holds a permission for are listed. A service with credentials.stored false ' +
        'answers every tool call with credentials_missing until an admin stores them (PUT /credentials/<service>).',
    };
    return {
      contents: [{ uri: CONNECTORS_URI, mimeType: 'application/json', text: JSON.stringify(body, null, 2) }],
    };
  }

  private async view(principal: Principal): Promise<ConnectorView[]> {
    const held = (Object.keys(CONNECTOR_SERVICE_TOOLS) as UpstreamService[]).filter((s) =>
      hasPermission(principal.permissions, CONNECTOR_SERVICE_TOOLS[s].permission),
    );
    if (held.length === 0) return [];
    const seesWhen = hasPermission(principal.permissions, 'credentials:read');
    const { items } = await this.health.list(principal);
    return items
      .filter((item) => held.includes(item.service))
      .map((item) => {
        const { permission, toolPrefix } = CONNECTOR_SERVICE_TOOLS[item.service];
        const tools = [...this.registry.tools.values()]
          .filter((t) => t.options.name.startsWith(toolPrefix) && mayAccess(t.options.permission, principal))
          .map((t) => t.options.name);
        return {
          service: item.service,
          permission,
          credentials: seesWhen
            ? { stored: item.credentials.stored, updatedAt: item.credentials.updatedAt }
            : { stored: item.credentials.stored },
          circuit: { state: item.circuit.state, retryAfterSeconds: item.circuit.retryAfterSeconds },
          ready: item.credentials.stored && item.circuit.state !== 'open',
          tools,
        };
      });
  }
}
