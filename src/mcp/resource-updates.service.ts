import { Injectable, Logger } from '@nestjs/common';
import { LegacySessions } from './legacy-sessions.service';
import { MayHear, OrganisationEventBus } from './organisation-event-bus';

/**
 * Where a resource says it changed for an organisation. Every instance is
 * told of the change (a resource learns of it on a store channel, as
 * credentials changes are), so each delivers to its own subscribers only:
 * the 2026-07-28 `subscriptions/listen` streams open here whose key belongs
 * to the organisation (OrganisationEventBus), and the 2025-era sessions
 * whose GET stream lives here, of that organisation, subscribed to the URI.
 * Nothing reaches another organisation's streams, not even the bare URI;
 * within the organisation, only the streams whose key `mayHear` the change
 * (the resource shows it that change), when the resource says so.
 */
@Injectable()
export class ResourceUpdates {
  private readonly logger = new Logger(ResourceUpdates.name);
  /** The bus McpHttpService hands createMcpHandler for its listen streams. */
  readonly bus = new OrganisationEventBus((e) =>
    this.logger.warn(`A subscriptions/listen stream failed to take an update: ${e.message}`),
  );

  constructor(private readonly sessions: LegacySessions) {}

  /**
   * Tells `organizationId`'s subscribers of `uri` on this instance that it changed: those whose key
   * `mayHear` it (by its permissions), or all of them when absent.
   */
  async updated(organizationId: string, uri: string, mayHear?: MayHear): Promise<void> {
    this.bus.publishTo(organizationId, { kind: 'resource_updated', uri }, mayHear);
    await this.sessions.notifyResourceUpdated(organizationId, uri, mayHear);
  }
}
