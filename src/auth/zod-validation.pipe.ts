import { ArgumentMetadata, BadRequestException, PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { fieldErrors } from '../common/field-errors';

/**
 * Parses a body or query with a zod schema. A failure is a 400 whose message
 * names every bad field (`name: must not be empty`), listed in `errors`, with
 * the code of the part refused (`invalid_body`, `invalid_query`); the value is never echoed.
 */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown, metadata?: ArgumentMetadata): z.output<S> {
    const result = this.schema.safeParse(value ?? {});
    if (result.success) return result.data;
    const errors = fieldErrors(result.error);
    throw new BadRequestException({
      statusCode: 400,
      error: 'Bad Request',
      // Which part of the request was refused: `invalid_query` (the query string) or `invalid_body`.
      code:
        metadata?.type === 'query'
          ? 'invalid_query'
          : metadata?.type === 'param'
            ? 'invalid_param'
            : 'invalid_body',
      message: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      errors,
    });
  }
}
