import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Principal } from '../auth/principal';
import { actorColumns, AuditKind, AuditOutcome, AuditRow } from './audit-record';
import { AuditFilter, AuditListQuery, encodeCursor } from './audit-query';
import { fromStored, placeholders, StoredAuditRow, timeParam } from './audit-sql';
import { AuditWriter } from './audit.writer';

/** An authentication or security event (the auth guard, rate limiter, origin check report these). */
export interface SecurityEvent {
  /** `auth` for authentication/authorisation failures (default), `security` for other events. */
  kind?: Extract<AuditKind, 'auth' | 'security'>;
  /** What happened: `auth.invalid_token`, `auth.expired_token`, `auth.revoked_key`, `auth.insufficient_scope`, `rate_limited` ... */
  action: string;
  /** Default `denied`. */
  outcome?: AuditOutcome;
  /** Machine-readable reason (`invalid_token`, `insufficient_scope`, ...). */
  errorCode?: string;
  /** HTTP status answered (401, 403, 429 ...). */
  status?: number;
  /** The caller as far as known from a verified token (for example a valid key lacking a permission). */
  principal?: Partial<Pick<Principal, 'keyId' | 'userId' | 'organizationId'>>;
  /** Defaults: from the current request. */
  ip?: string;
  userAgent?: string;
  requestId?: string;
  /**
   * The server's own facts about the event (method and path, the permission
   * missing, a limit, a count): stored with their digest, redacted, whatever
   * AUDIT_STORE_ARGS says. Never what a caller sent, never a token.
   */
  details?: unknown;
}

/** One audit row as the REST API shows it. */
export interface AuditEntryDto {
  id: string;
  occurredAt: string;
  organizationId: string | null;
  userId: string | null;
  keyId: string | null;
  kind: string;
  action: string;
  outcome: string;
  status: number | null;
  errorCode: string | null;
  durationMs: number | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  argsDigest: string | null;
  /** Redacted arguments when the server stores them (opt-in, AUDIT_STORE_ARGS), else null like any absent field. */
  args: unknown;
  writerId: string;
  seq: number;
  prevHash: string | null;
  hash: string;
}

export interface AuditPage {
  items: AuditEntryDto[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

const EXPORT_PAGE = 1000;

/**
 * The audit feature's service: security events for other features, and
 * reading the trail (always scoped to the caller's organisation).
 */
@Injectable()
export class AuditService {
  constructor(
    private readonly writer: AuditWriter,
    private readonly dataSource: DataSource,
  ) {}

  /**
   * Records an authentication or security event. Resolves once durable (sync
   * mode); rejects with AuditUnavailableError when it cannot be written.
   * Code on the request path uses SecurityEventRecorder.report instead (no
   * waiting, flood-limited), which calls this.
   */
  securityEvent(event: SecurityEvent): Promise<void> {
    return this.writer.record({
      kind: event.kind ?? 'auth',
      action: event.action,
      outcome: event.outcome ?? 'denied',
      errorCode: event.errorCode,
      status: event.status,
      ...actorColumns(event.principal),
      ip: event.ip,
      userAgent: event.userAgent,
      requestId: event.requestId,
      args: event.details,
      argsAreServerFacts: true,
    });
  }

  /** One page, newest first, keyset-paginated on (occurred_at, id). */
  async list(principal: Principal, query: AuditListQuery): Promise<AuditPage> {
    const rows = await this.page(principal.organizationId, query, query.limit + 1);
    const items = rows.slice(0, query.limit);
    const last = items[items.length - 1];
    return {
      items: items.map(toDto),
      nextCursor:
        rows.length > query.limit && last ? encodeCursor({ t: last.occurredAt, id: last.id }) : null,
    };
  }

  /** Every matching row, newest first, read page by page (for streaming exports). */
  async *exportRows(principal: Principal, filter: AuditFilter): AsyncGenerator<AuditEntryDto> {
    let cursor: AuditListQuery['cursor'];
    for (;;) {
      const rows = await this.page(
        principal.organizationId,
        { ...filter, cursor, limit: EXPORT_PAGE },
        EXPORT_PAGE,
      );
      for (const row of rows) yield toDto(row);
      if (rows.length < EXPORT_PAGE) return;
      const last = rows[rows.length - 1];
      cursor = { t: last.occurredAt, id: last.id };
    }
  }

  private async page(
    organizationId: string,
    q: AuditListQuery,
    limit: number,
  ): Promise<Array<AuditRow & { id: string }>> {
    const ds = this.dataSource;
    const p = placeholders(ds);
    const params: unknown[] = [];
    const add = (value: unknown) => {
      params.push(value);
      return p(params.length);
    };
    const where = [`organization_id = ${add(organizationId)}`];
    if (q.from) where.push(`occurred_at >= ${add(timeParam(ds, q.from))}`);
    if (q.to) where.push(`occurred_at < ${add(timeParam(ds, q.to))}`);
    if (q.userId) where.push(`user_id = ${add(q.userId)}`);
    if (q.keyId) where.push(`key_id = ${add(q.keyId)}`);
    if (q.kind) where.push(`kind = ${add(q.kind)}`);
    if (q.action) where.push(`action = ${add(q.action)}`);
    if (q.outcome) where.push(`outcome = ${add(q.outcome)}`);
    if (q.cursor) {
      const t = timeParam(ds, new Date(q.cursor.t));
      where.push(`(occurred_at < ${add(t)} OR (occurred_at = ${add(t)} AND id < ${add(q.cursor.id)}))`);
    }
    const rows: StoredAuditRow[] = await ds.query(
      `SELECT * FROM audit_logs WHERE ${where.join(' AND ')} ORDER BY occurred_at DESC, id DESC LIMIT ${add(limit)}`,
      params,
    );
    return rows.map(fromStored);
  }
}

function toDto(row: AuditRow & { id: string }): AuditEntryDto {
  const { args, ...rest } = row;
  return { ...rest, args: args === null ? null : (JSON.parse(args) as unknown) };
}
