import { ToolError } from '../../mcp/tool-pipeline.service';

/** The upstream services a connector reaches; also the credential service names. */
export type UpstreamService = 'xero' | 'shopify' | 'unleashed' | 'anthropic' | 'openai';

/** How each service is named in a message a model or a person reads. */
export const SERVICE_NAMES: Record<UpstreamService, string> = {
  xero: 'Xero',
  shopify: 'Shopify',
  unleashed: 'Unleashed',
  anthropic: 'Anthropic',
  openai: 'OpenAI',
};

export type UpstreamErrorCode =
  | 'upstream_timeout'
  | 'upstream_unreachable'
  | 'upstream_rate_limited'
  | 'upstream_quota_exhausted'
  | 'upstream_unavailable'
  | 'upstream_circuit_open'
  | 'upstream_response_too_large'
  | 'upstream_bad_response'
  | 'upstream_rejected_credentials'
  | 'upstream_not_found'
  | 'upstream_invalid_request'
  | 'upstream_unexpected_status'
  | 'upstream_account_unavailable'
  | 'credentials_missing'
  | 'credentials_unreadable';

/** Longest upstream detail quoted in a message. */
const MAX_DETAIL = 300;

/**
 * A failed upstream call, answered to the MCP client as a tool error (`isError:
 * true`) whose message says what happened and what to do, with a stable code
 * for the audit trail and metrics. A message never quotes an upstream's raw
 * body; `invalidRequest` takes a detail the connector read from a known field.
 */
export class UpstreamError extends ToolError {
  override name = 'UpstreamError';

  constructor(
    readonly service: UpstreamService,
    override readonly code: UpstreamErrorCode,
    message: string,
    /** Whole seconds after which a retry may succeed, when the upstream or a quota said. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message, code);
  }

  static rateLimited(service: UpstreamService, retryAfterSeconds: number | undefined): UpstreamError {
    const after = retryAfterSeconds === undefined ? undefined : Math.max(1, Math.ceil(retryAfterSeconds));
    return new UpstreamError(
      service,
      'upstream_rate_limited',
      `${SERVICE_NAMES[service]} is rate limiting requests for this organisation; ` +
        (after === undefined ? 'retry in a minute.' : `retry after ${after} s.`),
      after,
    );
  }

  /**
   * The upstream said which of its limits (`which`, a subject: "Xero's daily
   * limit for tenant ...") is used up, and this server refuses calls under it
   * until the wait is over; the same message when the upstream refused the
   * call and when this server refused it itself, with the wait left.
   */
  static limitHit(
    service: UpstreamService,
    which: string,
    retryAfterSeconds: number | undefined,
    now: number = Date.now(),
  ): UpstreamError {
    const after = retryAfterSeconds === undefined ? undefined : Math.max(1, Math.ceil(retryAfterSeconds));
    return new UpstreamError(
      service,
      'upstream_rate_limited',
      `${which} was reached; ` +
        (after === undefined
          ? 'retry later.'
          : `retry after ${after} s (at ${new Date(now + after * 1000).toISOString()}).`),
      after,
    );
  }

  /**
   * This server refused the call itself, before the upstream had to: a limit
   * the upstream publishes (`what`, after "allows") is reached.
   */
  static limitReached(service: UpstreamService, what: string, retryAfterSeconds: number): UpstreamError {
    const after = Math.max(1, Math.ceil(retryAfterSeconds));
    return new UpstreamError(
      service,
      'upstream_rate_limited',
      `${SERVICE_NAMES[service]} allows ${what}, and that many have been made; retry after ${after} s.`,
      after,
    );
  }

  /**
   * This server refused the call itself: the monthly quota the operator set
   * for this account of `service` is used up until `renewsAt` (ms since epoch).
   */
  static monthlyQuotaUsed(
    service: UpstreamService,
    max: number,
    renewsAt: number,
    retryAfterSeconds: number,
  ): UpstreamError {
    return new UpstreamError(
      service,
      'upstream_quota_exhausted',
      `This server's monthly quota of ${max} ${SERVICE_NAMES[service]} calls for this account is used up; ` +
        `it renews at ${new Date(renewsAt).toISOString()}.`,
      Math.max(1, Math.ceil(retryAfterSeconds)),
    );
  }

  /**
   * This server refused the call itself: the upstream's limit of calls at a
   * time for this organisation was taken by calls still running after `waitedMs`.
   */
  static busy(
    service: UpstreamService,
    maxConcurrent: number,
    waitedMs: number,
    retryAfterSeconds: number,
  ): UpstreamError {
    const after = Math.max(1, Math.ceil(retryAfterSeconds));
    return new UpstreamError(
      service,
      'upstream_rate_limited',
      `${SERVICE_NAMES[service]} takes at most ${maxConcurrent} calls at a time for this organisation, ` +
        `and ${maxConcurrent} were still running after ${Math.round(waitedMs / 1000)} s; retry after ${after} s.`,
      after,
    );
  }

  static rejectedCredentials(service: UpstreamService, status: number): UpstreamError {
    return new UpstreamError(
      service,
      'upstream_rejected_credentials',
      `${SERVICE_NAMES[service]} refused the stored credentials (HTTP ${status}); ` +
        `an admin can replace them with PUT /credentials/${service}.`,
    );
  }

  static notFound(service: UpstreamService, what: string): UpstreamError {
    return new UpstreamError(service, 'upstream_not_found', `${SERVICE_NAMES[service]} has no ${cut(what)}.`);
  }

  static invalidRequest(service: UpstreamService, detail: string): UpstreamError {
    return new UpstreamError(
      service,
      'upstream_invalid_request',
      `${SERVICE_NAMES[service]} refused the request: ${cut(detail)}`,
    );
  }

  static badResponse(service: UpstreamService, what: string): UpstreamError {
    return new UpstreamError(
      service,
      'upstream_bad_response',
      `${SERVICE_NAMES[service]} answered something this server cannot read (${cut(what)}); retrying may help.`,
    );
  }

  /** The account at the upstream (a Shopify shop) is frozen or locked: its owner must act; retrying will not help. */
  static accountUnavailable(service: UpstreamService, what: string): UpstreamError {
    return new UpstreamError(
      service,
      'upstream_account_unavailable',
      `${SERVICE_NAMES[service]} ${cut(what)}`,
    );
  }

  static unexpectedStatus(service: UpstreamService, status: number): UpstreamError {
    return new UpstreamError(
      service,
      'upstream_unexpected_status',
      `${SERVICE_NAMES[service]} answered HTTP ${status}, which this server does not expect here.`,
    );
  }

  static timeout(service: UpstreamService, ms: number): UpstreamError {
    return new UpstreamError(
      service,
      'upstream_timeout',
      `${SERVICE_NAMES[service]} did not answer within ${Math.round(ms / 1000)} s; retry later.`,
    );
  }

  static unreachable(service: UpstreamService): UpstreamError {
    return new UpstreamError(
      service,
      'upstream_unreachable',
      `${SERVICE_NAMES[service]} could not be reached (network error); retry later.`,
    );
  }

  static unavailable(service: UpstreamService, status: number, retryAfterSeconds?: number): UpstreamError {
    const after = retryAfterSeconds === undefined ? undefined : Math.max(1, Math.ceil(retryAfterSeconds));
    return new UpstreamError(
      service,
      'upstream_unavailable',
      `${SERVICE_NAMES[service]} is failing (HTTP ${status}); ` +
        (after === undefined ? 'retry later.' : `retry after ${after} s.`),
      after,
    );
  }

  static circuitOpen(service: UpstreamService, retryAfterSeconds: number): UpstreamError {
    const after = Math.max(1, Math.ceil(retryAfterSeconds));
    return new UpstreamError(
      service,
      'upstream_circuit_open',
      `${SERVICE_NAMES[service]} has been failing, so calls to it are paused; retry after ${after} s.`,
      after,
    );
  }

  /** A stored value that cannot go into an HTTP header (a control character); never quoted. */
  static unsendableCredentials(service: UpstreamService): UpstreamError {
    return new UpstreamError(
      service,
      'credentials_unreadable',
      `The stored ${SERVICE_NAMES[service]} credentials hold a character an HTTP header cannot carry, so nothing was sent; ` +
        `an admin can store them again with PUT /credentials/${service}.`,
    );
  }

  static tooLarge(service: UpstreamService, limitBytes: number): UpstreamError {
    return new UpstreamError(
      service,
      'upstream_response_too_large',
      `${SERVICE_NAMES[service]} answered more than ${limitBytes} bytes; ask for a smaller page.`,
    );
  }
}

/** One line of at most MAX_DETAIL characters, control characters dropped. */
function cut(text: string): string {
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return line.length <= MAX_DETAIL ? line : `${line.slice(0, MAX_DETAIL - 1)}…`;
}
