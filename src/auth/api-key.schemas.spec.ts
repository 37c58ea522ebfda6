import {
  createApiKeySchema,
  listApiKeysSchema,
  parseDuration,
  revokeApiKeySchema,
  rotateApiKeySchema,
} from './api-key.schemas';
import { fieldErrors } from '../common/field-errors';

describe('api-key schemas', () => {
  it('parseDuration reads seconds and unit suffixes, nothing else', () => {
    expect(parseDuration(3600)).toBe(3600);
    expect(parseDuration('3600')).toBe(3600);
    expect(parseDuration('45s')).toBe(45);
    expect(parseDuration('15m')).toBe(900);
    expect(parseDuration('12h')).toBe(43_200);
    expect(parseDuration('30d')).toBe(2_592_000);
    expect(parseDuration('2w')).toBe(1_209_600);
    for (const bad of ['', '1.5h', '-5', '30 days', 'd', '1e3', 1.5])
      expect(parseDuration(bad)).toBeUndefined();
  });

  it('create: trims the name, dedupes permissions, turns expiresIn into seconds', () => {
    expect(
      createApiKeySchema.parse({ name: ' ops ', permissions: ['admin', 'admin'], expiresIn: '30d' }),
    ).toEqual({
      name: 'ops',
      permissions: ['admin'],
      expiresIn: 2_592_000,
    });
  });

  it('create: names every bad field, unknown ones included', () => {
    const r = createApiKeySchema.safeParse({ name: '', permissions: ['root'], expiresIn: '3x', extra: 1 });
    expect(r.success).toBe(false);
    const fields = fieldErrors(r.error!).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['name', 'permissions.0', 'expiresIn', 'extra']));
  });

  it('create: refuses lifetimes under a minute or over ten years, and an empty grant', () => {
    for (const expiresIn of ['59s', 59, '3651d']) {
      expect(createApiKeySchema.safeParse({ name: 'a', permissions: ['admin'], expiresIn }).success).toBe(
        false,
      );
    }
    expect(createApiKeySchema.safeParse({ name: 'a', permissions: [] }).success).toBe(false);
  });

  it('list: coerces the query string, bounds the page size', () => {
    expect(listApiKeysSchema.parse({ limit: '50' })).toEqual({ limit: 50 });
    expect(listApiKeysSchema.parse({})).toEqual({ limit: 20 });
    expect(listApiKeysSchema.safeParse({ limit: '101' }).success).toBe(false);
    expect(listApiKeysSchema.safeParse({ status: 'gone' }).success).toBe(false);
    expect(listApiKeysSchema.parse({ limit: 7 })).toEqual({ limit: 7 }); // the command line passes a number
  });

  it('list: refuses a limit that is not plain digits given once, and an empty cursor', () => {
    for (const limit of ['1e1', '0x10', ' 5', '5.0', '', ['1', '2']]) {
      const r = listApiKeysSchema.safeParse({ limit });
      expect([limit, r.success]).toEqual([limit, false]);
      expect(fieldErrors(r.error!)).toEqual([{ field: 'limit', message: expect.any(String) }]);
    }
    expect(fieldErrors(listApiKeysSchema.safeParse({ limit: ['1', '2'] }).error!)[0].message).toBe(
      'must be a whole number, given once',
    );
    expect(fieldErrors(listApiKeysSchema.safeParse({ cursor: '' }).error!)).toEqual([
      { field: 'cursor', message: 'must not be empty' },
    ]);
  });

  it('list: a limit past the page size is named as such, however many digits', () => {
    expect(fieldErrors(listApiKeysSchema.safeParse({ limit: '9999999' }).error!)).toEqual([
      { field: 'limit', message: 'must be at most 100' },
    ]);
  });

  it('names and reasons: no control or bidirectional-control character, no lone surrogate (each named where it is)', () => {
    const problem = (schema: typeof createApiKeySchema | typeof revokeApiKeySchema, input: object) =>
      fieldErrors(schema.safeParse(input).error!);
    expect(problem(createApiKeySchema, { name: 'nul\u0000here', permissions: ['admin'] })).toEqual([
      {
        field: 'name',
        message: 'must not contain control or bidirectional-control characters (U+0000 at position 4)',
      },
    ]);
    expect(problem(createApiKeySchema, { name: 'line\nbreak', permissions: ['admin'] })[0].message).toContain(
      'U+000A at position 5',
    );
    expect(
      problem(createApiKeySchema, { name: 'gnp.\u202eexe', permissions: ['admin'] })[0].message,
    ).toContain('U+202E');
    expect(problem(createApiKeySchema, { name: '\ud800x', permissions: ['admin'] })).toEqual([
      { field: 'name', message: 'must be well-formed Unicode (a lone surrogate at position 1)' },
    ]);
    expect(problem(revokeApiKeySchema, { reason: 'a\u0000b' })[0]).toMatchObject({ field: 'reason' });
    expect(fieldErrors(listApiKeysSchema.safeParse({ name: 'a\u0000b' }).error!)[0]).toMatchObject({
      field: 'name',
    });
    // Any other text is kept as given: accents, scripts, emoji (a surrogate pair), joiners.
    for (const name of ['Schlüssel', 'ключ', '鍵 🔑', 'a\u200db', 'ops (eu-west)'])
      expect(createApiKeySchema.parse({ name, permissions: ['admin'] }).name).toBe(name);
  });

  it('rotate: grace is whole seconds up to 7 days', () => {
    expect(rotateApiKeySchema.parse({ graceSeconds: 60 })).toEqual({ graceSeconds: 60 });
    expect(rotateApiKeySchema.safeParse({ graceSeconds: 1.5 }).success).toBe(false);
    expect(rotateApiKeySchema.safeParse({ graceSeconds: 8 * 86_400 }).success).toBe(false);
  });
});
