import { once } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * Writes `chunk` to `out`, waiting while `out` is full (backpressure) for at
 * most `stallMs`: a reader that has not taken anything for that long gets
 * `out` destroyed (the caller sees `out.destroyed` and stops). Resolves when
 * `out` drains, closes or is given up on; its listeners go with each wait,
 * so a long stream of writes does not pile them up.
 */
export async function writeOrGiveUp(out: Writable, chunk: string, stallMs: number): Promise<void> {
  if (out.write(chunk)) return;
  const done = new AbortController();
  const timer = setTimeout(() => {
    out.destroy();
    done.abort();
  }, stallMs);
  try {
    await Promise.race([
      once(out, 'drain', { signal: done.signal }),
      once(out, 'close', { signal: done.signal }),
    ]).catch((err: unknown) => {
      if ((err as Error)?.name !== 'AbortError') throw err;
    });
  } finally {
    clearTimeout(timer);
    done.abort();
  }
}
