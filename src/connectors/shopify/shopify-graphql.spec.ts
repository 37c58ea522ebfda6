import { cut, interpretGraphQl, MAX_ERROR_MESSAGE, throttleWaitSeconds } from './shopify-graphql';

const cost = (requested: number | null, available: number, restoreRate = 100) => ({
  requestedQueryCost: requested,
  actualQueryCost: null,
  throttleStatus: { maximumAvailable: 1000, currentlyAvailable: available, restoreRate },
});

describe('interpretGraphQl', () => {
  it('returns data and cost of a successful answer', () => {
    const out = interpretGraphQl({ data: { orders: { nodes: [] } }, extensions: { cost: cost(13, 987) } });
    expect(out).toEqual({ kind: 'data', data: { orders: { nodes: [] } }, cost: cost(13, 987) });
  });

  it('recognises the HTTP-200 THROTTLED answer and computes the wait from the bucket', () => {
    const out = interpretGraphQl({
      errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED' } }],
      extensions: { cost: cost(253, 3, 50) },
    });
    expect(out).toEqual({ kind: 'throttled', waitSeconds: 5, cost: cost(253, 3, 50) });
  });

  it('is throttled whichever of its errors says THROTTLED', () => {
    const out = interpretGraphQl({
      errors: [{ message: 'Something else' }, { message: 'Throttled', extensions: { code: 'THROTTLED' } }],
      extensions: { cost: cost(120, 20, 100) },
    });
    expect(out).toMatchObject({ kind: 'throttled', waitSeconds: 1 });
  });

  it('reports a throttled answer without cost as an unknown wait', () => {
    const out = interpretGraphQl({ errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED' } }] });
    expect(out).toEqual({ kind: 'throttled', waitSeconds: undefined, cost: undefined });
  });

  it('passes on the first other GraphQL error with its code, cut to one bounded line', () => {
    const long = 'Field x\ndoes not exist ' + 'y'.repeat(1000);
    const out = interpretGraphQl({
      errors: [{ message: long, extensions: { code: 'undefinedField' } }, { message: 'second' }],
    });
    expect(out.kind).toBe('errors');
    if (out.kind !== 'errors') return;
    expect(out.code).toBe('undefinedField');
    expect(out.message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE);
    expect(out.message.startsWith('Field x does not exist')).toBe(true);
    expect(out.message).not.toContain('\n');
  });

  it('takes an empty errors list alongside data as data', () => {
    const out = interpretGraphQl({ data: { shop: { name: 'x' } }, errors: [] });
    expect(out).toEqual({ kind: 'data', data: { shop: { name: 'x' } }, cost: undefined });
  });

  it('is throttled by the THROTTLED code whatever the message says', () => {
    const out = interpretGraphQl({
      errors: [{ message: 'Too many requests, slow down', extensions: { code: 'THROTTLED' } }],
      extensions: { cost: cost(120, 20, 100) },
    });
    expect(out).toMatchObject({ kind: 'throttled', waitSeconds: 1 });
  });

  it('cuts an error message to 300 characters and its code to 64, each on one line', () => {
    const out = interpretGraphQl({
      errors: [{ message: 'm'.repeat(1000), extensions: { code: 'C\n' + 'c'.repeat(200) } }],
    });
    expect(out).toEqual({ kind: 'errors', code: `C ${'c'.repeat(61)}…`, message: `${'m'.repeat(299)}…` });
  });

  it('says so when an error carries no message', () => {
    expect(interpretGraphQl({ errors: [{ extensions: { code: 'INTERNAL_SERVER_ERROR' } }] })).toEqual({
      kind: 'errors',
      code: 'INTERNAL_SERVER_ERROR',
      message: 'no message given',
    });
  });

  it('treats errors alongside data as errors (a partial answer is not passed off as whole)', () => {
    const out = interpretGraphQl({
      data: { orders: null },
      errors: [{ message: 'Access denied for orders field.', extensions: { code: 'ACCESS_DENIED' } }],
    });
    expect(out).toEqual({
      kind: 'errors',
      code: 'ACCESS_DENIED',
      message: 'Access denied for orders field.',
    });
  });

  it.each([
    ['no data and no errors', {}],
    ['null data', { data: null }],
    ['a string errors (an HTTP-level body)', { errors: 'Not Found' }],
    ['a string errors alongside data', { data: { shop: {} }, errors: 'Not Found' }],
    ['an object errors alongside data', { data: { shop: {} }, errors: { base: ['Unavailable'] } }],
    ['errors of the wrong type', { errors: 42 }],
    [
      'a negative bucket size',
      {
        data: {},
        extensions: {
          cost: { throttleStatus: { maximumAvailable: -1, currentlyAvailable: 0, restoreRate: 100 } },
        },
      },
    ],
    ['a bad cost', { data: {}, extensions: { cost: { throttleStatus: { restoreRate: 'fast' } } } }],
    ['not an object', 'oops'],
  ])('calls %s malformed', (_name, body) => {
    expect(interpretGraphQl(body)).toEqual({ kind: 'malformed' });
  });
});

describe('throttleWaitSeconds', () => {
  it('is (requested - currentlyAvailable) / restoreRate', () => {
    expect(throttleWaitSeconds(cost(120, 20, 100))).toBe(1);
    expect(throttleWaitSeconds(cost(53, 0, 1))).toBe(53);
  });

  it('is 0 when the bucket already holds the cost, Infinity when it never restores', () => {
    expect(throttleWaitSeconds(cost(10, 500))).toBe(0);
    expect(throttleWaitSeconds(cost(10, 0, 0))).toBe(Infinity);
    // A full bucket needs no wait, even one that does not restore.
    expect(throttleWaitSeconds(cost(10, 10, 0))).toBe(0);
  });

  it('waits for one point when the requested cost is not given', () => {
    expect(throttleWaitSeconds(cost(null, 0, 100))).toBeCloseTo(0.01);
  });
});

describe('cut', () => {
  it('keeps short text, flattens control characters and marks a cut', () => {
    expect(cut('short', 10)).toBe('short');
    expect(cut('a\r\nb\tc', 10)).toBe('a b c');
    expect(cut('abcdefghijkl', 5)).toBe('abcd…');
    expect(cut('abcde', 5)).toBe('abcde');
    expect(cut('  padded line\n', 20)).toBe('padded line');
  });
});
