import { CredentialsRequestError } from './credentials.errors';
import { credentialsErrorResponse } from './credentials-exception.filter';
import { CredentialsError } from './crypto/credential-errors';

describe('credentialsErrorResponse', () => {
  it.each([
    [CredentialsRequestError.unknownService('github', ['xero', 'shopify']), 404, 'unknown_service'],
    [
      CredentialsRequestError.invalid('xero', [{ field: 'clientId', message: 'must not be empty' }]),
      400,
      'invalid_credentials',
    ],
    [CredentialsRequestError.invalidUserId(), 400, 'invalid_user_id'],
    [CredentialsRequestError.notFound('xero', null), 404, 'not_found'],
    [CredentialsError.masterKeyUnknown('mk-old'), 409, 'master_key_unknown'],
    [CredentialsError.decryptFailed('mk1'), 409, 'decrypt_failed'],
    [CredentialsError.malformed('iv must be 12 bytes (got 3)'), 500, 'malformed_record'],
    [CredentialsError.selfTestFailed('mk1'), 500, 'SELF_TEST_FAILED'],
  ])('maps %s', (err, status, code) => {
    const r = credentialsErrorResponse(err);
    expect(r.status).toBe(status);
    // The audit interceptor records the error's own `status`: the same one the caller gets.
    expect(err.status).toBe(status);
    expect(r.body).toMatchObject({ statusCode: status, code, message: err.message });
  });

  it('names the service and the allowed list for an unknown service', () => {
    const { body } = credentialsErrorResponse(
      CredentialsRequestError.unknownService('github', ['xero', 'shopify']),
    );
    expect(body.message).toBe('unknown service "github": must be one of xero, shopify');
    expect(body.errors).toEqual([{ field: 'service', message: 'must be one of xero, shopify' }]);
  });

  it('names the missing master key id', () => {
    const { body } = credentialsErrorResponse(CredentialsError.masterKeyUnknown('mk-old'));
    expect(body.keyId).toBe('mk-old');
    expect(body.message).toContain('"mk-old"');
  });

  it('lists each bad field of an invalid body', () => {
    const errors = [
      { field: 'clientSecret', message: 'Invalid input: expected string, received undefined' },
      { field: 'extra', message: 'is not a known field' },
    ];
    const { body } = credentialsErrorResponse(CredentialsRequestError.invalid('xero', errors));
    expect(body.errors).toEqual(errors);
    expect(body.message).toContain('clientSecret: ');
    expect(body.message).toContain('extra: is not a known field');
  });
});

describe('credentialsErrorResponse for a query parameter', () => {
  it('names the first bad one as `field`, as every REST query refusal does', () => {
    const { body } = credentialsErrorResponse(
      CredentialsRequestError.invalidQuery([{ field: 'userid', message: 'is not a known query parameter' }]),
    );
    expect(body).toMatchObject({
      code: 'invalid_query',
      field: 'userid',
      errors: [{ field: 'userid', message: 'is not a known query parameter' }],
    });
  });
});
