import { jsonShapeProblem, MAX_JSON_DEPTH, MAX_JSON_VALUES, nestsDeeperThan } from './body-parser';

const nested = (levels: number, make: (inner: unknown) => unknown = (v) => ({ a: v })) => {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = make(v);
  return v;
};

describe('nestsDeeperThan', () => {
  it('counts objects and arrays alike, and scalars not at all', () => {
    expect(nestsDeeperThan('text', 0)).toBe(false);
    expect(nestsDeeperThan(null, 0)).toBe(false);
    expect(nestsDeeperThan({}, 0)).toBe(true);
    expect(nestsDeeperThan({}, 1)).toBe(false);
    expect(nestsDeeperThan([[{ a: [1] }]], 3)).toBe(true);
    expect(nestsDeeperThan([[{ a: [1] }]], 4)).toBe(false);
  });

  it('allows exactly MAX_JSON_DEPTH levels and refuses one more', () => {
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    expect(
      nestsDeeperThan(
        nested(MAX_JSON_DEPTH + 1, (v) => [v]),
        MAX_JSON_DEPTH,
      ),
    ).toBe(true);
  });

  it('finds the deep branch among wide shallow ones', () => {
    const wide = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, { x: [1, 2] }]));
    expect(nestsDeeperThan(wide, 3)).toBe(false);
    expect(nestsDeeperThan({ ...wide, deep: nested(10) }, 3)).toBe(true);
  });

  it('walks a body far deeper than the stack allows without overflowing', () => {
    const deep = JSON.parse('['.repeat(200_000) + ']'.repeat(200_000)) as unknown;
    expect(nestsDeeperThan(deep, MAX_JSON_DEPTH)).toBe(true);
  });
});

describe('jsonShapeProblem', () => {
  it('counts object members and array items at every depth, and stops past the limit', () => {
    expect(jsonShapeProblem({ a: [1, 2, { b: 3 }] }, 64, 5)).toBeUndefined(); // a, 1, 2, {b}, b
    expect(jsonShapeProblem({ a: [1, 2, { b: 3, c: 4 }] }, 64, 5)).toBe('too_many_values');
    const wide = Object.fromEntries(Array.from({ length: MAX_JSON_VALUES + 1 }, (_, i) => [`k${i}`, i]));
    expect(jsonShapeProblem(wide, MAX_JSON_DEPTH, MAX_JSON_VALUES)).toBe('too_many_values');
    expect(jsonShapeProblem({ text: 'x'.repeat(500_000) }, MAX_JSON_DEPTH, MAX_JSON_VALUES)).toBeUndefined();
  });

  it('names whichever limit the walk meets first', () => {
    expect(jsonShapeProblem(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH, 1)).toBe('too_many_values');
    expect(jsonShapeProblem(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH, 10_000)).toBe('too_deep');
  });
});
