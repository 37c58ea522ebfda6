/** Small helpers shared by the benchmarks: percentiles and a bounded concurrent load loop. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export interface LoadResult {
  requests: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

/** Latencies (ms, sorted), failures and elapsed seconds of a closed-loop run (see `workers`). */
export interface WorkerRun {
  latencies: number[];
  errors: number;
  seconds: number;
}

/**
 * `concurrency` callers, each calling `fn` back to back for as long as
 * `more()` says; a call that throws counts as an error and its time still
 * counts. The shared loop of every closed-loop benchmark.
 */
export async function workers(
  concurrency: number,
  more: (calls: number) => boolean,
  fn: (i: number) => Promise<unknown>,
): Promise<WorkerRun> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (more(next)) {
        const i = next++;
        const t = performance.now();
        try {
          await fn(i);
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { latencies, errors, seconds: (performance.now() - started) / 1000 };
}

/** Runs `fn` with `concurrency` workers until `total` calls are done; latencies in ms. */
export async function load(
  total: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
): Promise<LoadResult> {
  const { latencies, errors, seconds } = await workers(concurrency, (calls) => calls < total, fn);
  return {
    requests: total,
    seconds,
    perSecond: total / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
  };
}

export function report(name: string, r: LoadResult): void {
  // eslint-disable-next-line no-console
  console.log(
    `${name.padEnd(48)} ${r.perSecond.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  (${r.requests} requests, ${r.errors} errors)`,
  );
}
