import { z } from 'zod';
import { describeFieldErrors, fieldErrors } from './field-errors';

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

  it("keeps zod's wording for a field of the wrong type or value", () => {
    const [name, permissions] = errorsOf({ name: 7, permissions: [] });
    expect(name).toEqual({
      field: 'name',
      message: expect.stringMatching(/expected string, received number/),
    });
    expect(permissions.field).toBe('permissions');
    expect(permissions.message).not.toBe('is required');
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
});
