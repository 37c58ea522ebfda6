import { cutText, storableText } from '../common/well-formed';
import { redact, redactString } from '../observability/redact';
import { RequestContext } from '../observability/request-context';
import {
  type AuditRecord,
  type AuditRow,
  canonicalJson,
  canonicalRedactedJson,
  sha256Hex,
} from './audit-record';
import { AuditRequestContext } from './audit-request-context';

/*
 * The digest covers the arguments with their secrets redacted (as a stored
 * copy is): a digest of a credential body would otherwise let anyone who
 * reads the trail test guessed secrets offline.
 */

/** A value fitted to its column: cut on a character boundary, lone surrogates and NUL replaced. */
const clip = (v: unknown, max: number): string | null =>
  v == null ? null : storableText(cutText(String(v), max));
/** A caller-chosen header value: secrets in it (a pasted token) are scrubbed before it is clipped. */
const scrubbed = (v: unknown, max: number): string | null =>
  v == null ? null : storableText(cutText(redactString(String(v).slice(0, 4 * max)), max));
const int32 = (v: number | null | undefined): number | null =>
  v == null || !Number.isFinite(v) ? null : Math.max(-2147483648, Math.min(2147483647, Math.round(v)));

/**
 * The `audit_logs` row of a record, not yet on a chain (writerId '', seq 0,
 * no hashes): fields the record leaves out come from the current request
 * (principal and request id from RequestContext, IP and user agent from
 * AuditRequestContext), the arguments become the digest of their redacted
 * form (and, only when
 * `storeArgs` is on or they are the server's own facts, a redacted canonical
 * copy), and every value is fitted
 * to its column so a hostile value can never fail the batch it joins. The
 * caller's own header values (user agent, request id) are scrubbed of
 * secrets as log lines are: a token pasted into one never reaches the trail.
 */
export function toAuditRow(rec: AuditRecord, storeArgs: boolean): AuditRow {
  const ctx = RequestContext.current();
  const scope = AuditRequestContext.current();
  const hasArgs = rec.args !== undefined;
  return {
    occurredAt: (rec.occurredAt ?? new Date()).toISOString(),
    organizationId: clip(rec.organizationId ?? ctx?.organizationId, 64),
    userId: clip(rec.userId ?? ctx?.userId, 64),
    keyId: clip(rec.keyId ?? ctx?.keyId, 64),
    kind: rec.kind,
    // A caller's too: an unrouted path or an unknown tool's name may hold a pasted secret.
    action: scrubbed(rec.action, 200) ?? '',
    outcome: clip(rec.outcome, 32) ?? '',
    status: int32(rec.status),
    errorCode: clip(rec.errorCode, 100),
    durationMs: int32(rec.durationMs),
    ip: clip(rec.ip ?? scope?.ip, 64),
    userAgent: scrubbed(rec.userAgent ?? scope?.userAgent, 512),
    requestId: scrubbed(rec.requestId ?? ctx?.requestId, 128),
    argsDigest: hasArgs ? sha256Hex(canonicalRedactedJson(rec.args)) : clip(rec.argsDigest, 128),
    args: (storeArgs || rec.argsAreServerFacts) && hasArgs ? canonicalJson(redact(rec.args)) : null,
    writerId: '',
    seq: 0,
    prevHash: null,
    hash: '',
  };
}
