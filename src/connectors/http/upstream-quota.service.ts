import { Injectable } from '@nestjs/common';
import { KeyValueStore } from '../../store/key-value-store';
import { UpstreamError, UpstreamService } from './upstream.errors';

export interface QuotaLimit {
  /** Calls allowed in one window. */
  max: number;
  windowMs: number;
}

/**
 * Keeps this server under an upstream's own published limits (Xero's 60
 * calls a minute per tenant, say) so that the upstream never has to refuse
 * us: a fixed-window counter per service and scope in the shared store, so
 * every instance counts against the same budget in the cluster shape. Past
 * the limit the call is refused here, without reaching the upstream, with
 * the seconds left in the window.
 */
@Injectable()
export class UpstreamQuota {
  constructor(private readonly store: KeyValueStore) {}

  async take(service: UpstreamService, scope: string, limit: QuotaLimit): Promise<void> {
    const window = Math.floor(Date.now() / limit.windowMs);
    const key = `upstream:quota:${service}:${limit.windowMs}:${scope}:${window}`;
    const used = await this.store.incr(key, 1, limit.windowMs);
    if (used <= limit.max) return;
    const left = (window + 1) * limit.windowMs - Date.now();
    throw UpstreamError.rateLimited(service, Math.max(1, left / 1000));
  }
}
