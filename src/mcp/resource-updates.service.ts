import { Injectable, Logger } from '@nestjs/common';
import { LegacySessions } from './legacy-sessions.service';
import { OrganisationEventBus } from './organisation-event-bus';

/**
 * Where a resource says it changed for an organisation. Every instance is
 * told of the change (a resource learns of it on a store channel, as
 * credentials changes are), so each delivers to its own subscribers only:
 * the 2026-07-28 `subscriptions/listen` streams open here whose key belongs
 * to the organisation (OrganisationEventBus), and the 2025-era sessions
 * whose GET stream lives here, of that organisation, subscribed to the URI.
 * Nothing reaches another organisation's streams, not even the bare URI.
 */
@Injectable()
export class ResourceUpdates {
  private readonly logger = new Logger(ResourceUpdates.name);
  /** The bus McpHttpService hands createMcpHandler for its listen streams. */
  readonly bus = new OrganisationEventBus((e) =>
    this.logger.warn(`A subscriptions/listen stream failed to take an update: ${e.message}`),
  );

  constructor(private readonly sessions: LegacySessions) {}

  /** Tells `organizationId`'s subscribers of `uri` on this instance that it changed. */
  async updated(organizationId: string, uri: string): Promise<void> {
    this.bus.publishTo(organizationId, { kind: 'resource_updated', uri });
    await this.sessions.notifyResourceUpdated(organizationId, uri);
  }
}
