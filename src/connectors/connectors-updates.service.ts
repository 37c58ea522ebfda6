import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { CredentialChange, CredentialsService } from '../credentials/credentials.service';
import { hasPermission } from '../auth/tokens/permissions';
import { ResourceUpdates } from '../mcp/resource-updates.service';
import { CONNECTOR_SERVICE_TOOLS, CONNECTORS_URI } from './connectors.resources';
import type { UpstreamService } from './http/upstream.errors';

/**
 * Sends `notifications/resources/updated` for `sentia://connectors` to the
 * organisation's subscribers when one of its credentials is stored, replaced
 * or deleted (PUT, DELETE /credentials), heard on the credentials channel as every
 * instance hears it. Not for a connector's own refresh of a credential (a
 * Xero token rotated about every 30 minutes): only `updatedAt` moves, for
 * keys that see it, and a client would be woken for nothing. Not for a
 * user's own credential either: the resource shows the organisation's.
 * Only to keys that hold the changed service's permission: the resource
 * shows a key only those services, so a key scoped to Shopify is not told
 * (not even that something changed) when the organisation's Xero
 * credentials are stored or deleted.
 */
@Injectable()
export class ConnectorsUpdates implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ConnectorsUpdates.name);
  private stop?: () => void;

  constructor(
    private readonly credentials: CredentialsService,
    private readonly updates: ResourceUpdates,
  ) {}

  onModuleInit(): void {
    this.stop = this.credentials.watch((change) => this.onChange(change));
  }

  onModuleDestroy(): void {
    this.stop?.();
  }

  private onChange(change: CredentialChange): void {
    if (change.userId !== null || change.change === 'refreshed') return;
    // A service the resource does not show changes nothing in it.
    if (!Object.hasOwn(CONNECTOR_SERVICE_TOOLS, change.service)) return;
    const { permission } = CONNECTOR_SERVICE_TOOLS[change.service as UpstreamService];
    const mayHear = (permissions: readonly string[]) => hasPermission(permissions, permission);
    this.updates.updated(change.organizationId, CONNECTORS_URI, mayHear).catch((err: unknown) => {
      this.logger.warn(
        `Could not send the connectors update of organisation ${change.organizationId}: ` +
          `${(err as Error)?.message ?? 'error'}`,
      );
    });
  }
}
