import { BadRequestException } from '@nestjs/common';
import { describeFieldErrors, MAX_FIELD_ERRORS, unknownFieldMessage } from '../common/field-errors';
import { isStorableTime } from '../common/storable-time';
import { AUDIT_KINDS, AUDIT_OUTCOMES, AuditKind, AuditOutcome } from './audit-record';

/** Filters of `GET /admin/audit` and its export (the organisation comes from the principal). */
export interface AuditFilter {
  from?: Date;
  to?: Date;
  userId?: string;
  keyId?: string;
  kind?: AuditKind;
  action?: string;
  outcome?: AuditOutcome;
}

export interface AuditCursor {
  /** occurred_at of the last row returned, ISO 8601. */
  t: string;
  id: string;
}

export interface AuditListQuery extends AuditFilter {
  limit: number;
  cursor?: AuditCursor;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;
export const EXPORT_FORMATS = ['ndjson', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

const KNOWN = new Set([
  'from',
  'to',
  'userId',
  'keyId',
  'kind',
  'action',
  'outcome',
  'limit',
  'cursor',
  'format',
]);
const FILTERS = ['from', 'to', 'userId', 'keyId', 'kind', 'action', 'outcome'];
/** What the list takes, and what the export takes (it streams every match: no page). */
const LIST_PARAMETERS = [...FILTERS, 'limit', 'cursor'];
const EXPORT_PARAMETERS = [...FILTERS, 'format'];
const ID = /^[A-Za-z0-9._:@-]{1,64}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * The problems of one query, collected so that one 400 names every bad
 * parameter (`errors`, as a body's), with `field` the first of them.
 */
class Problems {
  readonly list: { field: string; message: string }[] = [];

  add(field: string, problem: string): undefined {
    if (!this.list.some((e) => e.field === field)) this.list.push({ field, message: problem });
    return undefined;
  }

  throwIfAny(): void {
    if (this.list.length === 0) return;
    throw new BadRequestException({
      statusCode: 400,
      error: 'Bad Request',
      code: 'invalid_query',
      field: this.list[0].field,
      // Worded as every other route's 400: `field: problem; ...`.
      message: describeFieldErrors(this.list, MAX_FIELD_ERRORS),
      errors: this.list.slice(0, MAX_FIELD_ERRORS),
    });
  }
}

function single(p: Problems, query: Record<string, unknown>, field: string): string | undefined {
  const v = query[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') return p.add(field, 'give it once, as a plain value');
  return v;
}

/**
 * Parses an ISO 8601 time as these filters take it, or undefined when it is
 * not one. A date that does not exist (2026-02-30, 25:00) is refused, not
 * rolled over into another day as `Date` would.
 */
export function parseIsoTime(v: string): Date | undefined {
  const m = ISO_TIME.exec(v);
  if (!m) return undefined;
  const [y, mo, d] = v.slice(0, 10).split('-').map(Number);
  if (y < 1) return undefined; // there is no year 0 (PostgreSQL refuses it)
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth) return undefined;
  const clock = /T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(v);
  if (clock && (Number(clock[1]) > 23 || Number(clock[2]) > 59 || Number(clock[3] ?? 0) > 59))
    return undefined;
  const offset = /([+-])(\d{2}):(\d{2})$/.exec(v);
  if (offset && (Number(offset[2]) > 23 || Number(offset[3]) > 59)) return undefined;
  const date = new Date(v);
  return isStorableTime(date) ? date : undefined;
}

function time(p: Problems, query: Record<string, unknown>, field: string): Date | undefined {
  const v = single(p, query, field);
  if (v === undefined) return undefined;
  const d = parseIsoTime(v);
  if (!d)
    p.add(
      field,
      'must be an ISO 8601 time that exists, from year 1 to 9999 in UTC, e.g. 2026-03-01T00:00:00Z',
    );
  return d;
}

/** The field's value when it is one of `allowed`; a 400 that lists them otherwise. */
function oneOf<T extends string>(
  p: Problems,
  query: Record<string, unknown>,
  field: string,
  allowed: readonly T[],
): T | undefined {
  const v = single(p, query, field);
  if (v !== undefined && !(allowed as readonly string[]).includes(v))
    return p.add(field, `must be one of ${allowed.join(', ')}`);
  return v as T | undefined;
}

function text(
  p: Problems,
  query: Record<string, unknown>,
  field: string,
  pattern: RegExp,
  hint: string,
): string | undefined {
  const v = single(p, query, field);
  if (v !== undefined && !pattern.test(v)) return p.add(field, hint);
  return v;
}

/**
 * Parses and validates the filters, page size and cursor (the export,
 * `allowFormat`: the filters and format, no page); bad values are one 400
 * naming each of them.
 */
export function parseAuditQuery(
  query: Record<string, unknown>,
  allowFormat = false,
): AuditListQuery & { format?: ExportFormat } {
  const p = new Problems();
  for (const key of Object.keys(query)) {
    if (!KNOWN.has(key) || (key === 'format' && !allowFormat))
      p.add(key, unknownFieldMessage(true, allowFormat ? EXPORT_PARAMETERS : LIST_PARAMETERS));
    else if (allowFormat && (key === 'limit' || key === 'cursor'))
      p.add(key, 'not taken by the export, which streams every matching record (narrow it with from/to)');
  }
  const from = time(p, query, 'from');
  const to = time(p, query, 'to');
  if (from && to && from.getTime() > to.getTime()) p.add('to', 'must not be before "from"');
  const kind = oneOf(p, query, 'kind', AUDIT_KINDS);
  const limitRaw = single(p, query, 'limit');
  let limit = DEFAULT_PAGE_SIZE;
  if (limitRaw !== undefined) {
    limit = Number(limitRaw);
    if (!/^\d+$/.test(limitRaw) || limit < 1 || limit > MAX_PAGE_SIZE)
      p.add('limit', `must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  const cursorRaw = single(p, query, 'cursor');
  const format = allowFormat ? (single(p, query, 'format') ?? 'ndjson') : undefined;
  if (format !== undefined && !(EXPORT_FORMATS as readonly string[]).includes(format)) {
    p.add('format', `must be one of ${EXPORT_FORMATS.join(', ')}`);
  }
  const parsed = {
    from,
    to,
    userId: text(p, query, 'userId', ID, 'must be an id of 1-64 characters'),
    keyId: text(p, query, 'keyId', ID, 'must be an id of 1-64 characters'),
    kind,
    action: text(p, query, 'action', /^[\x20-\x7e]{1,200}$/, 'must be 1-200 printable characters'),
    outcome: oneOf(p, query, 'outcome', AUDIT_OUTCOMES),
    limit,
    cursor: cursorRaw === undefined ? undefined : decodeCursor(p, cursorRaw),
    format: format as ExportFormat | undefined,
  };
  p.throwIfAny();
  return parsed;
}

export function encodeCursor(c: AuditCursor): string {
  return Buffer.from(JSON.stringify([c.t, c.id]), 'utf8').toString('base64url');
}

/** The largest audit_logs.id (PostgreSQL bigint). */
const MAX_BIGINT = 9223372036854775807n;

function decodeCursor(p: Problems, raw: string): AuditCursor | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'string' &&
      typeof v[1] === 'string' &&
      /^\d{1,19}$/.test(v[1]) &&
      BigInt(v[1]) <= MAX_BIGINT
    ) {
      const t = new Date(v[0]);
      if (isStorableTime(t)) return { t: t.toISOString(), id: v[1] };
    }
  } catch {
    // fall through
  }
  return p.add('cursor', 'is not a cursor this endpoint returned');
}
