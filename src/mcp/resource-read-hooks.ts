import { Injectable } from '@nestjs/common';
import type { Principal } from '../auth/principal';

/**
 * What a resources/read ended as: read (`success`), refused as not found
 * (`denied`: no such resource, or one the key may not read, which the caller
 * cannot tell apart), or failed (`internal_error`).
 */
export type ResourceReadOutcome = 'success' | 'denied' | 'internal_error';

/** What a hook learns of each resources/read. */
export interface ResourceReadRecord {
  /** The URI asked for (shortened when long). */
  uri: string;
  principal?: Principal;
  requestId: string;
  outcome: ResourceReadOutcome;
  errorCode?: string;
  durationMs: number;
}

/**
 * Observers of resource reads (the audit trail), as ToolCallHook is of tool
 * calls: the answer goes out only once every hook has settled, and a hook
 * that throws fails the read (a resource may reveal organisation data, so it
 * is not answered unaudited).
 */
export interface ResourceReadHook {
  afterRead(record: ResourceReadRecord): void | Promise<void>;
}

/** Where resource-read hooks register (the audit module does, when the application has it). */
@Injectable()
export class ResourceReadHooks {
  private readonly hooks: ResourceReadHook[] = [];

  addHook(hook: ResourceReadHook): void {
    this.hooks.push(hook);
  }

  async afterRead(record: ResourceReadRecord): Promise<void> {
    if (this.hooks.length > 0) await Promise.all(this.hooks.map((h) => h.afterRead(record)));
  }
}
