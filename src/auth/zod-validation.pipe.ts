import { ArgumentMetadata, BadRequestException, PipeTransform } from '@nestjs/common';
import { z } from 'zod';
import { describeFieldErrors, fieldErrors, MAX_FIELD_ERRORS } from '../common/field-errors';

/**
 * Parses a body or query with a zod schema. A failure is a 400 whose message
 * names every bad field (`name: must not be empty`), listed in `errors`, with
 * the code of the part refused (`invalid_body`, `invalid_query`, the latter with the first
 * parameter as `field`); the value is never echoed.
 */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown, metadata?: ArgumentMetadata): z.output<S> {
    const result = this.schema.safeParse(value ?? {});
    if (result.success) return result.data;
    const query = metadata?.type === 'query';
    const known = query && this.schema instanceof z.ZodObject ? Object.keys(this.schema.shape) : undefined;
    const errors = fieldErrors(result.error, { query, known });
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
      // A query refusal also names its first parameter as `field`, as the audit routes' do.
      ...(query && errors.length > 0 ? { field: errors[0].field } : {}),
      message: describeFieldErrors(errors, MAX_FIELD_ERRORS),
      errors: errors.slice(0, MAX_FIELD_ERRORS),
    });
  }
}
