/**
 * `fn`, whose result is reused for `ms` after each call: a readiness probe
 * that anyone may send, as often as they like (it is exempt from the rate
 * limits), then costs the database and Redis at most one check each per
 * `ms`, however many probes arrive.
 */
export function cachedFor<T>(
  fn: () => Promise<T>,
  ms: number,
  now: () => number = Date.now,
): () => Promise<T> {
  let at = -Infinity;
  let last: Promise<T> | undefined;
  return () => {
    const t = now();
    if (last === undefined || t - at >= ms) {
      at = t;
      last = fn();
    }
    return last;
  };
}
