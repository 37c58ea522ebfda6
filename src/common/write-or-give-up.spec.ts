import { Writable } from 'node:stream';
import { writeOrGiveUp } from './write-or-give-up';

/** A real Writable of one byte's buffer whose reader takes each chunk after `takeMs`, or never. */
const sink = (takeMs: number | 'never') =>
  new Writable({
    highWaterMark: 1,
    write(_chunk, _enc, done) {
      if (takeMs !== 'never') setTimeout(done, takeMs);
    },
  });

describe('writeOrGiveUp', () => {
  it('waits for a slow reader to drain, and does not give up on it', async () => {
    const out = sink(20);
    for (let i = 0; i < 5; i++) await writeOrGiveUp(out, 'chunk', 1_000);
    expect(out.destroyed).toBe(false);
  });

  it('destroys the stream when its reader has taken nothing for the stall time', async () => {
    const out = sink('never');
    const started = Date.now();
    await writeOrGiveUp(out, 'chunk', 200);
    expect(out.destroyed).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('leaves no listener behind after each wait (a long export does not pile them up)', async () => {
    const out = sink(1);
    for (let i = 0; i < 50; i++) await writeOrGiveUp(out, 'chunk', 1_000);
    expect(out.listenerCount('drain')).toBe(0);
    expect(out.listenerCount('close')).toBe(0);
    expect(out.listenerCount('error')).toBe(0);
  });

  it('returns at once when the stream has room', async () => {
    const out = new Writable({ highWaterMark: 1_000, write: (_c, _e, done) => done() });
    await writeOrGiveUp(out, 'small', 1);
    expect(out.destroyed).toBe(false);
  });

  describe('on a clock of its own', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    /** A full stream whose reader takes its chunk when the test says so. */
    const heldSink = () => {
      let take: () => void = () => undefined;
      const out = new Writable({
        highWaterMark: 1,
        write(_chunk, _enc, done) {
          take = done;
        },
      });
      return { out, take: () => take() };
    };

    it('once drained, leaves the stream alone: the stall timer goes with the wait', async () => {
      const { out, take } = heldSink();
      const wrote = writeOrGiveUp(out, 'chunk', 100);
      take();
      await wrote;
      await jest.advanceTimersByTimeAsync(1_000);
      expect(out.destroyed).toBe(false);
    });

    it('returns as soon as the stream closes, without waiting out the stall time', async () => {
      const { out } = heldSink();
      let done = false;
      const wrote = writeOrGiveUp(out, 'chunk', 60_000).then(() => (done = true));
      out.destroy();
      await jest.advanceTimersByTimeAsync(0);
      expect(done).toBe(true);
      await wrote;
    });

    it('leaves no listener behind when it gives up', async () => {
      const { out } = heldSink();
      const wrote = writeOrGiveUp(out, 'chunk', 100);
      await jest.advanceTimersByTimeAsync(100);
      await wrote;
      expect(out.destroyed).toBe(true);
      expect([out.listenerCount('drain'), out.listenerCount('close')]).toEqual([0, 0]);
    });
  });
});
