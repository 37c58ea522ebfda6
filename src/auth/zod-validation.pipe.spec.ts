import { BadRequestException } from '@nestjs/common';
import { z } from 'zod';
import { ZodValidationPipe } from './zod-validation.pipe';

function refusal(run: () => unknown): Record<string, unknown> {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(BadRequestException);
    return (e as BadRequestException).getResponse() as Record<string, unknown>;
  }
  throw new Error('not refused');
}

describe('ZodValidationPipe', () => {
  const schema = z.strictObject({
    limit: z.coerce.number().int().max(100).optional(),
    name: z.string().optional(),
  });

  it('names the first bad query parameter as `field`, as every REST query refusal does', () => {
    const body = refusal(() => new ZodValidationPipe(schema).transform({ limit: '500' }, { type: 'query' }));
    expect(body).toMatchObject({
      statusCode: 400,
      code: 'invalid_query',
      field: 'limit',
      errors: [{ field: 'limit', message: expect.any(String) }],
    });
  });

  it('gives a refused body its errors without `field`', () => {
    const body = refusal(() => new ZodValidationPipe(schema).transform({ name: 1 }, { type: 'body' }));
    expect(body.code).toBe('invalid_body');
    expect(body).not.toHaveProperty('field');
    expect(body.errors).toEqual([{ field: 'name', message: expect.any(String) }]);
  });
});
