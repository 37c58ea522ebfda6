import { Injectable } from '@nestjs/common';
import type { CredentialService, CredentialValue } from '../../credentials/credential-schemas';
import { CredentialsRequestError } from '../../credentials/credentials.errors';
import { CredentialRevision, CredentialsService } from '../../credentials/credentials.service';
import { CredentialsError } from '../../credentials/crypto/credential-errors';
import type { ToolContext } from '../../mcp/mcp-context';
import { ToolError } from '../../mcp/tool-pipeline.service';
import { SERVICE_NAMES, UpstreamError } from './upstream.errors';

/**
 * The credentials a connector uses for one call: those stored for the
 * caller's organisation and the service (never the caller's own token),
 * decrypted through the vault's cache. A missing or unreadable record becomes
 * a tool error that says who can fix it and how.
 *
 * A call reads them once: the first `get` of a call (its context object)
 * reads, and every later one of the same call gets what it read. So the
 * answer cache, which reads them for its key, hands the tool the very
 * credentials the key was made of (one lookup in `cache_requests_total`, and
 * an answer is never filed under credentials other than those it was
 * fetched with, should a PUT land between the two reads).
 */
@Injectable()
export class ConnectorCredentials {
  /** What each call read, by its context: gone with the call. */
  private readonly byCall = new WeakMap<ToolContext, Map<CredentialService, Promise<unknown>>>();

  constructor(private readonly credentials: CredentialsService) {}

  async get<S extends CredentialService>(ctx: ToolContext, service: S): Promise<CredentialValue<S>> {
    const organizationId = this.organizationOf(ctx, service);
    let read = this.byCall.get(ctx);
    if (!read) this.byCall.set(ctx, (read = new Map()));
    let value = read.get(service) as Promise<CredentialValue<S>> | undefined;
    if (!value) {
      value = this.credentials.getDecrypted(organizationId, service).catch((e: unknown) => {
        throw this.toolErrorOf(service, e);
      });
      read.set(service, value);
    }
    return value;
  }

  /**
   * The credentials as stored now (the database, not the cache), with the
   * revision CredentialsService.replaceIfUnchanged takes: for a connector that
   * writes back what it derived from them (a rotated refresh token).
   */
  async getForUpdate<S extends CredentialService>(
    ctx: ToolContext,
    service: S,
  ): Promise<{ value: CredentialValue<S>; revision: CredentialRevision }> {
    const organizationId = this.organizationOf(ctx, service);
    try {
      return await this.credentials.readForUpdate(organizationId, service);
    } catch (e) {
      throw this.toolErrorOf(service, e);
    }
  }

  private organizationOf(ctx: ToolContext, service: CredentialService): string {
    const organizationId = ctx.principal?.organizationId;
    if (!organizationId)
      throw new ToolError(
        `${SERVICE_NAMES[service]} tools need an API key of an organisation.`,
        'unauthenticated',
      );
    return organizationId;
  }

  private toolErrorOf(service: CredentialService, e: unknown): unknown {
    if (e instanceof CredentialsRequestError && e.code === 'not_found')
      return new UpstreamError(
        service,
        'credentials_missing',
        `No ${SERVICE_NAMES[service]} credentials are stored for this organisation; ` +
          `an admin can store them with PUT /credentials/${service}.`,
      );
    if (e instanceof CredentialsError)
      return new UpstreamError(
        service,
        'credentials_unreadable',
        `The stored ${SERVICE_NAMES[service]} credentials cannot be read (${e.code}); ` +
          `an admin can store them again with PUT /credentials/${service}.`,
      );
    return e;
  }
}
