/**
 * `work`, or a rejection with `late()` once `ms` have passed: for a caller
 * that must not wait longer for an answer that may never come (a database or
 * Redis that swallows packets). `work` itself goes on; its late failure is
 * ignored. The timer keeps no process alive and ends with the answer.
 *
 * The deadline is acted on only after the event loop has taken in the I/O
 * already waiting: when the process itself stalled (a long GC pause, a core
 * taken away) the timer and the answer are both due when it resumes, and
 * Node runs timers before it reads sockets. Without that turn, a stall of
 * the caller would count as the service's silence (a rate limit falling
 * back to local counts, a health check failing) though the answer was there.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, late: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let turn: NodeJS.Immediate | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      turn = setImmediate(() => reject(late()));
    }, ms);
    timer.unref();
  });
  work.catch(() => undefined);
  return Promise.race([work, expired]).finally(() => {
    clearTimeout(timer);
    if (turn) clearImmediate(turn);
  });
}

/** Whether `work` settles, either way, within `ms` (it goes on regardless). */
export function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = work.then(
    () => true,
    () => true,
  );
  return withDeadline(settled, ms, () => new Error('late')).catch(() => false);
}
