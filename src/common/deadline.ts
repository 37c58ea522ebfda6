/**
 * `work`, or a rejection with `late()` once `ms` have passed: for a caller
 * that must not wait longer for an answer that may never come (a database or
 * Redis that swallows packets). `work` itself goes on; its late failure is
 * ignored. The timer keeps no process alive and ends with the answer.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, late: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), ms);
    timer.unref();
  });
  work.catch(() => undefined);
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** Whether `work` settles, either way, within `ms` (it goes on regardless). */
export function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = work.then(
    () => true,
    () => true,
  );
  return withDeadline(settled, ms, () => new Error('late')).catch(() => false);
}
