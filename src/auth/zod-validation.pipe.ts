import { BadRequestException, PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { fieldErrors } from '../common/field-errors';

/**
 * Parses a body or query with a zod schema. A failure is a 400 whose message
 * names every bad field (`name: must not be empty`); the value is never echoed.
 */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown): z.output<S> {
    const result = this.schema.safeParse(value ?? {});
    if (result.success) return result.data;
    const errors = fieldErrors(result.error);
    throw new BadRequestException({
      statusCode: 400,
      error: 'Bad Request',
      message: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      errors,
    });
  }
}
