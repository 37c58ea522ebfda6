import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { CredentialChange, CredentialsService } from '../credentials/credentials.service';
import { ResourceUpdates } from '../mcp/resource-updates.service';
import { CONNECTORS_URI } from './connectors.resources';

/**
 * Sends `notifications/resources/updated` for `sentia://connectors` to the
 * organisation's subscribers when one of its credentials is stored, replaced
 * or deleted (PUT, DELETE /credentials), heard on the credentials channel as every
 * instance hears it. Not for a connector's own refresh of a credential (a
 * Xero token rotated about every 30 minutes): only `updatedAt` moves, for
 * keys that see it, and a client would be woken for nothing. Not for a
 * user's own credential either: the resource shows the organisation's.
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
    this.updates.updated(change.organizationId, CONNECTORS_URI).catch((err: unknown) => {
      this.logger.warn(
        `Could not send the connectors update of organisation ${change.organizationId}: ` +
          `${(err as Error)?.message ?? 'error'}`,
      );
    });
  }
}
