import { z } from 'zod';
import { describeFieldErrors, fieldErrors, fieldsAt } from './field-errors';

const schema = z.strictObject({
  name: z.string().min(1),
  permissions: z.array(z.string()).min(1),
  address: z.strictObject({ city: z.string() }).optional(),
});
const errorsOf = (input: unknown) => fieldErrors(schema.safeParse(input).error!);

describe('fieldErrors', () => {
  it('calls a missing field "is required", at any depth', () => {
    expect(errorsOf({ address: {} })).toEqual([
      { field: 'name', message: 'is required' },
      { field: 'permissions', message: 'is required' },
      { field: 'address.city', message: 'is required' },
    ]);
  });

  it("puts zod's own wording plainly: type, size, allowed values, alternatives", () => {
    const [name, permissions] = errorsOf({ name: 7, permissions: [] });
    expect(name).toEqual({ field: 'name', message: 'must be a string, not a number' });
    expect(permissions).toEqual({ field: 'permissions', message: 'must have at least 1 item' });
    const rich = z.strictObject({
      status: z.enum(['active', 'revoked']).optional(),
      tags: z.array(z.string()).max(2).optional(),
      when: z.union([z.string(), z.number()]).optional(),
      n: z.number().max(5).optional(),
      code: z.string().max(3).optional(),
      own: z.string().max(3, 'keep it short').optional(),
    });
    const issues = fieldErrors(
      rich.safeParse({ status: 'x', tags: ['a', 'b', 'c'], when: true, n: 9, code: 'abcd', own: 'abcd' })
        .error!,
    );
    expect(issues).toEqual([
      { field: 'status', message: 'must be one of: active, revoked' },
      { field: 'tags', message: 'must have at most 2 items' },
      { field: 'when', message: 'must be a string or a number' },
      { field: 'n', message: 'must be at most 5' },
      { field: 'code', message: 'must be at most 3 characters' },
      { field: 'own', message: 'keep it short' }, // a schema's own message is kept
    ]);
  });

  it('names a repeated or unknown query parameter as such, with the known ones', () => {
    const query = z.strictObject({ name: z.string().optional(), limit: z.string().optional() });
    expect(
      fieldErrors(query.safeParse({ name: ['a', 'b'], colour: 'red' }).error!, {
        query: true,
        known: ['name', 'limit'],
      }),
    ).toEqual([
      { field: 'name', message: 'must be given once' },
      { field: 'colour', message: 'is not a known query parameter (known: name, limit)' },
    ]);
  });

  it('lists the known fields for an unknown key at the top level only, not inside a nested object', () => {
    expect(
      fieldErrors(
        schema.safeParse({ name: 'x', permissions: ['a'], extra: 1, address: { city: 'c', zip: 1 } }).error!,
        {
          known: ['name', 'permissions', 'address'],
        },
      ),
    ).toEqual([
      { field: 'address.zip', message: 'is not a known field' },
      { field: 'extra', message: 'is not a known field (known: name, permissions, address)' },
    ]);
  });

  it("with the schema, tells a nested object's unknown key that object's fields (through arrays and optionals)", () => {
    const nested = z
      .object({
        messages: z.array(z.object({ role: z.string(), content: z.string() }).strict()),
        meta: z.object({ tag: z.string() }).strict().optional(),
        tags: z.array(z.string()),
      })
      .strict();
    const input = {
      messages: [{ role: 'user', content: 'x', name: 'n' }],
      meta: { tag: 't', colour: 'red' },
      tags: [],
    };
    expect(
      fieldErrors(nested.safeParse(input).error!, { known: ['messages', 'meta', 'tags'], schema: nested }),
    ).toEqual([
      { field: 'messages.0.name', message: 'is not a known field (known: role, content)' },
      { field: 'meta.colour', message: 'is not a known field (known: tag)' },
    ]);
    expect(fieldsAt(nested, ['tags'])).toBeUndefined();
    expect(fieldsAt(nested, ['nowhere', 0])).toBeUndefined();
  });

  it('names each unknown key, and a body that is not an object', () => {
    expect(errorsOf({ name: 'x', permissions: ['a'], extra: 1, more: 2 })).toEqual([
      { field: 'extra', message: 'is not a known field' },
      { field: 'more', message: 'is not a known field' },
    ]);
    expect(errorsOf('text')).toEqual([{ field: '(body)', message: 'must be a JSON object' }]);
    expect(fieldErrors(schema.safeParse(null).error!, '(arguments)')).toEqual([
      { field: '(arguments)', message: 'must be a JSON object' },
    ]);
  });

  it('joins at most five, then counts the rest', () => {
    const many = Array.from({ length: 7 }, (_, i) => ({ field: `f${i}`, message: 'bad' }));
    expect(describeFieldErrors(many)).toBe('f0: bad; f1: bad; f2: bad; f3: bad; f4: bad; and 2 more');
  });

  it('counts nothing at exactly five, and "and 1 more" at six', () => {
    const errs = (n: number) => Array.from({ length: n }, (_, i) => ({ field: `f${i}`, message: 'bad' }));
    expect(describeFieldErrors(errs(5))).toBe('f0: bad; f1: bad; f2: bad; f3: bad; f4: bad');
    expect(describeFieldErrors(errs(6))).toMatch(/; and 1 more$/);
  });

  it('says "an" before a vowel, "object" for a record, the one allowed value, a set\'s items', () => {
    const plain = (s: z.ZodType, v: unknown) =>
      fieldErrors(z.object({ v: s }).safeParse({ v }).error!)[0].message;
    expect(plain(z.array(z.string()), 'x')).toBe('must be an array, not a string');
    expect(plain(z.record(z.string(), z.string()), 'x')).toBe('must be an object, not a string');
    expect(plain(z.literal('on'), 'off')).toBe('must be "on"');
    expect(plain(z.set(z.string()).max(1), new Set(['a', 'b']))).toBe('must have at most 1 item');
  });

  it('tells an unknown field that no field is taken where the object takes none', () => {
    const none = z.strictObject({});
    expect(fieldErrors(none.safeParse({ x: 1 }).error!, { known: [] })).toEqual([
      { field: 'x', message: 'is not a known field (none is taken)' },
    ]);
  });
});

describe('fieldsAt', () => {
  it('reads through a pipe (a transform) to the object inside', () => {
    const piped = z.object({ a: z.string(), b: z.number() }).transform((o) => o.a);
    expect(fieldsAt(z.object({ inner: piped }), ['inner'])).toEqual(['a', 'b']);
  });
});
