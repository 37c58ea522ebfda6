/**
 * The bench's paired measurement: the fan-out open loop sends every arrival
 * to every target, and the paired bootstrap keeps shared noise shared. The
 * tool-latency figures rest on both.
 */
import { bootstrapPercentileDiff, openLoopFanout, seededRandom } from '../../bench/load';

describe('openLoopFanout', () => {
  it('sends each arrival to every target, alternating which goes first, with one sample per target', async () => {
    const order: string[] = [];
    const send =
      (name: string, fail = false) =>
      async (i: number) => {
        order.push(`${name}${i}`);
        if (fail && i === 1) throw new Error('refused');
      };
    const [a, b] = await openLoopFanout([0, 1, 2], [send('a'), send('b', true)]);
    expect(order).toEqual(['a0', 'b0', 'b1', 'a1', 'a2', 'b2']);
    expect(a.map((s) => s.at)).toEqual([0, 1, 2]);
    expect(b.map((s) => s.error)).toEqual([undefined, 'refused', undefined]);
    for (const s of [...a, ...b]) expect(s.latency).toBeGreaterThanOrEqual(0);
  });
});

describe('bootstrapPercentileDiff', () => {
  // 30 one-second blocks whose level drifts a lot (the machine), b 2 ms slower than a in every second.
  const random = seededRandom(3);
  const a = Array.from({ length: 30 }, () => {
    const level = 5 + 30 * random();
    return Array.from({ length: 50 }, () => level + random());
  });
  const b = a.map((block) => block.map((v) => v + 2));

  it('paired, draws the same seconds on both sides: the shared drift cancels', () => {
    const { low, high } = bootstrapPercentileDiff(b, a, 99, 1, { paired: true });
    expect(low).toBeCloseTo(2, 5);
    expect(high).toBeCloseTo(2, 5);
  });

  it('unpaired, the drift widens the interval far beyond the true difference', () => {
    const { low, high } = bootstrapPercentileDiff(b, a, 99, 1);
    expect(high - low).toBeGreaterThan(2);
  });

  it('refuses a paired comparison of sides with different blocks', () => {
    expect(() => bootstrapPercentileDiff(b, a.slice(1), 99, 1, { paired: true })).toThrow(/same blocks/);
  });
});
