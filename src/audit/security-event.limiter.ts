/**
 * How many security events a window records one by one. Beyond these, events
 * are only counted, and each window ends with one summary per source and code.
 */
export interface SecurityEventLimits {
  /** Events recorded per source (client IP) and error code in one window. */
  perSource: number;
  /** Events recorded in one window over all sources. */
  total: number;
  /** Sources tracked in one window; events of further sources share the source `*`. */
  maxSources: number;
  /** Length of a window (ms). */
  windowMs: number;
}

export const DEFAULT_SECURITY_EVENT_LIMITS: SecurityEventLimits = {
  perSource: 20,
  total: 1000,
  maxSources: 1000,
  windowMs: 60_000,
};

/** The source events of sources beyond `maxSources` are counted under. */
export const OVERFLOW_SOURCE = '*';

/** What a window did not record one by one. */
export interface SuppressedEvents {
  source: string;
  errorCode: string;
  /** HTTP status of the first event of this source and code in the window. */
  status?: number;
  count: number;
}

interface Bucket {
  source: string;
  errorCode: string;
  status?: number;
  admitted: number;
  suppressed: number;
}

/**
 * Decides, per event, whether it is recorded one by one or only counted.
 * Pure and synchronous (no clock of its own): the owner calls `rollover()`
 * at the end of each window. Memory is bounded by `maxSources` (plus one
 * overflow bucket per error code).
 */
export class SecurityEventLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private admittedInWindow = 0;

  constructor(readonly limits: SecurityEventLimits = DEFAULT_SECURITY_EVENT_LIMITS) {}

  /** True: record this event now. False: it is counted into the window's summary. */
  admit(source: string, errorCode: string, status?: number): boolean {
    const bucket = this.bucketFor(source, errorCode, status);
    if (bucket.admitted < this.limits.perSource && this.admittedInWindow < this.limits.total) {
      bucket.admitted++;
      this.admittedInWindow++;
      return true;
    }
    bucket.suppressed++;
    return false;
  }

  /** Ends the window: returns what it suppressed and starts a new, empty one. */
  rollover(): SuppressedEvents[] {
    const out: SuppressedEvents[] = [];
    for (const b of this.buckets.values()) {
      if (b.suppressed > 0)
        out.push({ source: b.source, errorCode: b.errorCode, status: b.status, count: b.suppressed });
    }
    this.buckets.clear();
    this.admittedInWindow = 0;
    return out;
  }

  private bucketFor(source: string, errorCode: string, status?: number): Bucket {
    const key = `${errorCode}\u0000${source}`;
    let bucket = this.buckets.get(key);
    if (bucket) return bucket;
    if (this.buckets.size >= this.limits.maxSources) {
      const overflow = `${errorCode}\u0000${OVERFLOW_SOURCE}`;
      bucket = this.buckets.get(overflow);
      if (bucket) return bucket;
      bucket = { source: OVERFLOW_SOURCE, errorCode, status, admitted: 0, suppressed: 0 };
      this.buckets.set(overflow, bucket);
      return bucket;
    }
    bucket = { source, errorCode, status, admitted: 0, suppressed: 0 };
    this.buckets.set(key, bucket);
    return bucket;
  }
}
