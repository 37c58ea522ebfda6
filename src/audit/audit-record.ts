import { wellFormed } from '../common/well-formed';
import { createHash } from 'node:crypto';
import {
  isFlatPairList,
  isSensitiveEntry,
  REDACTED,
  redactedListItem,
  redactString,
} from '../observability/redact';

/** What an audit record is about. */
export const AUDIT_KINDS = ['tool_call', 'resource_read', 'admin', 'auth', 'security'] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/**
 * Every outcome a record can have: a tool call's (ToolOutcome), a REST
 * call's by status (`success`, `denied`, `client_error`, `server_error`), a
 * security event's (`denied`), and a window's summary of the events it did
 * not record one by one (`suppressed`).
 */
export const AUDIT_OUTCOMES = [
  'success',
  'denied',
  'invalid_arguments',
  'tool_error',
  'internal_error',
  'unknown_tool',
  'client_error',
  'server_error',
  'suppressed',
] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/**
 * One audited event, as callers hand it to the AuditWriter. Times are UTC.
 * `args` is never stored by default: the writer keeps its digest and, only
 * when `storeArgs` is on, a redacted copy.
 */
export interface AuditRecord {
  /** When it happened; the writer uses "now" when absent. */
  occurredAt?: Date;
  organizationId?: string | null;
  userId?: string | null;
  keyId?: string | null;
  kind: AuditKind;
  /** Tool name, `METHOD /route/pattern`, or an event name (`auth.invalid_token`). */
  action: string;
  outcome: AuditOutcome;
  status?: number | null;
  errorCode?: string | null;
  durationMs?: number | null;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  /** The call's arguments: digested (SHA-256 of canonical JSON); stored redacted only when opted in. */
  args?: unknown;
  /**
   * `args` are this server's own facts about an event (a security event's
   * method and path, a summary's count), not what a caller sent: stored
   * (redacted as ever) whatever AUDIT_STORE_ARGS says, or the row would not
   * say what happened.
   */
  argsAreServerFacts?: boolean;
  /** A digest computed elsewhere; used when `args` is absent. */
  argsDigest?: string | null;
}

/** Who acted, as a record's columns: the principal's organisation, user and key, or nulls for a caller without a key. */
export function actorColumns(
  principal: { organizationId?: string; userId?: string; keyId?: string } | null | undefined,
): Pick<AuditRecord, 'organizationId' | 'userId' | 'keyId'> {
  return {
    organizationId: principal?.organizationId ?? null,
    userId: principal?.userId ?? null,
    keyId: principal?.keyId ?? null,
  };
}

/** A row of `audit_logs` as the writer inserts it (column names in comments). */
export interface AuditRow {
  occurredAt: string; // occurred_at, ISO 8601 UTC with milliseconds
  organizationId: string | null; // organization_id
  userId: string | null; // user_id
  keyId: string | null; // key_id
  kind: string;
  action: string;
  outcome: string;
  status: number | null;
  errorCode: string | null; // error_code
  durationMs: number | null; // duration_ms
  ip: string | null;
  userAgent: string | null; // user_agent
  requestId: string | null; // request_id
  argsDigest: string | null; // args_digest
  args: string | null; // redacted canonical JSON, only when storeArgs is on
  writerId: string; // writer_id
  seq: number;
  prevHash: string | null; // prev_hash
  hash: string;
}

/**
 * Canonical JSON (RFC 8785 in spirit): object keys sorted by UTF-16 code
 * units, no whitespace, strings and numbers as `JSON.stringify` writes them
 * (which is the ECMAScript number form RFC 8785 uses). Like JSON.stringify:
 * `toJSON` is honoured (Dates become ISO strings), object entries whose value
 * is undefined, a function or a symbol are left out and become `null` in
 * arrays, non-finite numbers become `null`. BigInts become decimal strings.
 * A top-level undefined is `null`. Cycles throw.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, new Set(), false) ?? 'null';
}

/**
 * `canonicalJson(redact(value))` in one pass, without the redacted copy:
 * secret-named entries become "[REDACTED]" and secrets inside strings are
 * scrubbed (src/observability/redact), for the arguments digest of every
 * audit record. The same text as the two steps for any JSON value within
 * redact's limits.
 */
export function canonicalRedactedJson(value: unknown): string {
  return encode(value, new Set(), true) ?? 'null';
}

const REDACTED_JSON = JSON.stringify(REDACTED);

function encode(value: unknown, path: Set<object>, redacting: boolean): string | undefined {
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
      // Well formed: a lone surrogate would make PostgreSQL refuse the JSON (and SQLite store U+FFFD).
      return JSON.stringify(wellFormed(redacting ? redactString(value) : value));
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const obj = value as object;
  if (path.has(obj)) throw new TypeError('canonicalJson: cyclic value');
  path.add(obj);
  try {
    if (Array.isArray(obj)) {
      const flat = redacting && isFlatPairList(obj);
      const items = obj.map((v, i) => {
        const secret = redacting ? redactedListItem(obj, i, flat) : undefined;
        return encode(secret ?? v, path, redacting) ?? 'null';
      });
      return `[${items.join(',')}]`;
    }
    const parts: string[] = [];
    for (const key of Object.keys(obj).sort()) {
      const v = (obj as Record<string, unknown>)[key];
      const encoded = redacting && isSensitiveEntry(key, v) ? REDACTED_JSON : encode(v, path, redacting);
      if (encoded !== undefined) parts.push(`${JSON.stringify(wellFormed(key))}:${encoded}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    path.delete(obj);
  }
}

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** SHA-256 hex of the canonical JSON of a call's arguments (undefined arguments digest as `null`). */
export const argsDigest = (args: unknown): string => sha256Hex(canonicalJson(args));

/**
 * The fields a row's hash covers, in their fixed canonical order, with their
 * `audit_logs` columns and PostgreSQL types. The one list the hash, the
 * SQLite insert and the PostgreSQL insert all read: changing it changes
 * every hash, so never reorder it.
 */
export const CANONICAL_FIELDS = [
  ['writerId', 'writer_id', 'varchar'],
  ['seq', 'seq', 'int8'],
  ['occurredAt', 'occurred_at', 'timestamptz'],
  ['organizationId', 'organization_id', 'varchar'],
  ['userId', 'user_id', 'varchar'],
  ['keyId', 'key_id', 'varchar'],
  ['kind', 'kind', 'varchar'],
  ['action', 'action', 'varchar'],
  ['outcome', 'outcome', 'varchar'],
  ['status', 'status', 'int4'],
  ['errorCode', 'error_code', 'varchar'],
  ['durationMs', 'duration_ms', 'int4'],
  ['ip', 'ip', 'varchar'],
  ['userAgent', 'user_agent', 'varchar'],
  ['requestId', 'request_id', 'varchar'],
  ['argsDigest', 'args_digest', 'varchar'],
  ['args', 'args', 'text'],
] as const satisfies readonly (readonly [Exclude<keyof AuditRow, 'prevHash' | 'hash'>, string, string])[];

/**
 * The fields a row's hash covers, in a fixed order (everything but id,
 * prev_hash and hash), as a JSON array. Every element is a string, a finite
 * integer or null, for which JSON.stringify already writes canonical JSON.
 */
export function canonicalRow(row: Omit<AuditRow, 'prevHash' | 'hash'>): string {
  return JSON.stringify(CANONICAL_FIELDS.map(([field]) => row[field]));
}

/** h = SHA-256(prev_hash || canonical row), hex; a chain's first row has no prev_hash (''). */
export function chainHash(prevHash: string | null, row: Omit<AuditRow, 'prevHash' | 'hash'>): string {
  return chainHashOf(prevHash, canonicalRow(row));
}

/** chainHash from a row's canonicalRow text, for a caller that keeps that text (the writer sends it on). */
export const chainHashOf = (prevHash: string | null, canonical: string): string =>
  sha256Hex((prevHash ?? '') + canonical);
