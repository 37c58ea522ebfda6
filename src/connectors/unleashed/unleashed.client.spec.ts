import { UpstreamError } from '../http/upstream.errors';
import type { UpstreamResponse } from '../http/upstream-http.service';
import {
  readUnleashedResponse,
  unleashedHeaders,
  unleashedSignature,
  unleashedUrl,
} from './unleashed.client';
import { PRODUCTS_PAGE } from './unleashed.mapping';

// Expected signatures computed outside this code base:
//   printf '<query>' | openssl dgst -sha256 -hmac '<key>' -binary | base64
describe('unleashedSignature', () => {
  it('is base64 HMAC-SHA256 of the query string keyed with the API key', () => {
    expect(unleashedSignature('pageSize=200&productCode=ABC', 'unleashed-key-1')).toBe(
      'zB2ADNQE6lZm4QHlAR6hQ92fE3mKm6PhVrz5ij+C3kA=',
    );
  });

  it('signs the empty string when there is no query', () => {
    expect(unleashedSignature('', 'unleashed-key-1')).toBe('ZzY53S7BlEVOjElT8iv0MiU21XEpFtzQtfiCY70OcTk=');
  });

  it('takes the key as UTF-8', () => {
    expect(unleashedSignature('pageSize=5', 'clé-ü')).toBe('U9S1A7JyDtuUpr2fyJ561Fe/RswJwti2r6h27VOuUMI=');
  });
});

describe('unleashedUrl', () => {
  it('puts the page in the path and pageSize first in the query, leaving out undefined filters', () => {
    const url = unleashedUrl(
      'https://api.unleashedsoftware.com/',
      'Products',
      { page: 3, pageSize: 500 },
      { productCode: 'BEV', productGroup: undefined, includeObsolete: false },
    );
    expect(url.href).toBe(
      'https://api.unleashedsoftware.com/Products/3?pageSize=500&productCode=BEV&includeObsolete=false',
    );
  });

  it('encodes filter values once', () => {
    const url = unleashedUrl(
      'http://127.0.0.1:9',
      'StockOnHand',
      { page: 1, pageSize: 1 },
      { warehouseCode: 'A&B C/é' },
    );
    expect(url.pathname).toBe('/StockOnHand/1');
    expect(url.search).toBe('?pageSize=1&warehouseCode=A%26B+C%2F%C3%A9');
    expect(new URLSearchParams(url.search).get('warehouseCode')).toBe('A&B C/é');
  });
});

describe('unleashedHeaders', () => {
  it('signs exactly the query that is sent and names the client', () => {
    const url = unleashedUrl(
      'http://127.0.0.1:9',
      'Products',
      { page: 1, pageSize: 200 },
      { productCode: 'ABC' },
    );
    const headers = unleashedHeaders(url, { apiId: 'id-1', apiKey: 'unleashed-key-1' });
    expect(headers).toEqual({
      'api-auth-id': 'id-1',
      'api-auth-signature': 'zB2ADNQE6lZm4QHlAR6hQ92fE3mKm6PhVrz5ij+C3kA=',
      accept: 'application/json',
      'content-type': 'application/json',
      'client-type': 'sentia/mcp',
    });
  });
});

describe('readUnleashedResponse', () => {
  const response = (status: number, text: string): UpstreamResponse => ({
    status,
    headers: new Headers(),
    text,
    json: () => JSON.parse(text) as unknown,
  });
  const read = (status: number, text: string) =>
    readUnleashedResponse(response(status, text), 'Products', PRODUCTS_PAGE);
  const errorOf = (status: number, text: string): UpstreamError => {
    try {
      read(status, text);
    } catch (e) {
      if (e instanceof UpstreamError) return e;
      throw e;
    }
    throw new Error('expected an UpstreamError');
  };
  const page = {
    Pagination: { NumberOfItems: 0, PageSize: 200, PageNumber: 1, NumberOfPages: 0 },
    Items: [],
  };

  it('parses a 200 envelope', () => {
    expect(read(200, JSON.stringify(page))).toEqual({
      items: [],
      pagination: { page: 1, pageSize: 200, numberOfPages: 0, numberOfItems: 0 },
    });
  });

  it('refuses a 200 that is not the envelope', () => {
    expect(errorOf(200, '{"Items":[]}').code).toBe('upstream_bad_response');
  });

  it('maps 401 and 403 to rejected credentials, naming the fix', () => {
    for (const status of [401, 403]) {
      const e = errorOf(status, '{"Description":"Forbidden"}');
      expect(e.message).toContain(`HTTP ${status}`);
      expect(e.message).toContain('/credentials/unleashed');
    }
  });

  it('maps 404 to not found and other statuses to unexpected', () => {
    expect(errorOf(404, '<html>nope</html>').message).toContain('Products');
    // A redirect is not followed (UpstreamHttp): its body is not a page, even when it reads as one.
    expect(errorOf(302, JSON.stringify(page)).code).toBe('upstream_unexpected_status');
    const other = errorOf(418, 'secret-looking body sk-123');
    expect(other.message).toContain('418');
    expect(other.message).not.toContain('sk-123');
  });

  it('gives a 400 the message of a known field, cut, and never the raw body', () => {
    const e = errorOf(
      400,
      JSON.stringify({ Description: 'The value of modifiedSince is not a valid date.' }),
    );
    expect(e.message).toContain('The value of modifiedSince is not a valid date.');
    const raw = errorOf(400, '{"Other":"apikey=SECRET-VALUE"}');
    expect(raw.message).not.toContain('SECRET-VALUE');
    const notJson = errorOf(400, 'SECRET-VALUE');
    expect(notJson.message).not.toContain('SECRET-VALUE');
    const long = errorOf(400, JSON.stringify({ Message: 'y'.repeat(10_000) }));
    expect(long.message.length).toBeLessThan(600);
  });
});
