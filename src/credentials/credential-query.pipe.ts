import { PipeTransform } from '@nestjs/common';
import { CredentialsRequestError } from './credentials.errors';
import type { CredentialScopeOptions } from './credentials.service';

/**
 * The query string of a /credentials route: `userId` on the routes that take
 * it, and nothing else. A misspelt parameter (`?userid=bob`) must not fall
 * back silently to the organisation's credential (a PUT would replace it, a
 * DELETE remove it), so any other parameter is refused with 400
 * invalid_query naming it, and so is a `userId` given twice. The value
 * itself is checked by the service (invalid_user_id).
 */
export class CredentialQueryPipe implements PipeTransform<unknown, CredentialScopeOptions> {
  constructor(private readonly takesUserId: boolean) {}

  transform(query: unknown): CredentialScopeOptions {
    const params = (query ?? {}) as Record<string, unknown>;
    const known = this.takesUserId ? 'the only one is userId' : 'this route takes none';
    const errors = Object.keys(params)
      .filter((name) => !(this.takesUserId && name === 'userId'))
      .map((name) => ({ field: name, message: `is not a known query parameter (${known})` }));
    if (this.takesUserId && params.userId !== undefined && typeof params.userId !== 'string')
      errors.unshift({ field: 'userId', message: 'must be given once' });
    if (errors.length > 0) throw CredentialsRequestError.invalidQuery(errors);
    return params.userId === undefined ? {} : { userId: params.userId as string };
  }
}
