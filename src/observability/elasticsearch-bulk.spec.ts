import {
  bulkEndpoint,
  bulkItem,
  documentFor,
  failureReason,
  indexName,
  readBulkResponse,
} from './elasticsearch-bulk';

const MESSAGE = Symbol.for('message');

describe('bulkEndpoint', () => {
  it('appends /_bulk to the base path and drops query and fragment', () => {
    expect(bulkEndpoint('http://es:9200').url).toBe('http://es:9200/_bulk');
    expect(bulkEndpoint('https://proxy.example/es/?x=1#f').url).toBe('https://proxy.example/es/_bulk');
  });

  it('moves URL credentials into a Basic header and out of everything printable', () => {
    const endpoint = bulkEndpoint('https://elastic:p%40ss@es.example:9243/');
    expect(endpoint.url).toBe('https://es.example:9243/_bulk');
    expect(endpoint.display).toBe('https://es.example:9243');
    expect(endpoint.headers.authorization).toBe(`Basic ${Buffer.from('elastic:p@ss').toString('base64')}`);
    expect(endpoint.headers['content-type']).toBe('application/x-ndjson');
    expect(bulkEndpoint('http://es:9200').headers.authorization).toBeUndefined();
  });
});

describe('indexName', () => {
  it('uses the UTC day', () => {
    expect(indexName('sentia-mcp-logs', new Date('2026-01-05T23:59:59.999-02:00'))).toBe(
      'sentia-mcp-logs-2026.01.06',
    );
    expect(indexName('p', new Date('2026-12-31T00:00:00Z'))).toBe('p-2026.12.31');
  });
});

describe('documentFor', () => {
  const now = () => new Date('2026-03-04T05:06:07.000Z');

  it('reuses the JSON line the logger produced, with @timestamp first', () => {
    const line = '{"timestamp":"2026-02-01T10:00:00.000Z","level":"info","message":"hi"}';
    const { document, at } = documentFor({ timestamp: '2026-02-01T10:00:00.000Z', [MESSAGE]: line }, now);
    expect(at.toISOString()).toBe('2026-02-01T10:00:00.000Z');
    expect(JSON.parse(document)).toEqual({
      '@timestamp': '2026-02-01T10:00:00.000Z',
      timestamp: '2026-02-01T10:00:00.000Z',
      level: 'info',
      message: 'hi',
    });
    expect(Object.keys(JSON.parse(document))[0]).toBe('@timestamp');
  });

  it('falls back to the fields when there is no one-line JSON message, and to now without a timestamp', () => {
    const { document, at } = documentFor({ level: 'warn', message: 'x', [MESSAGE]: 'warn: x\nmore' }, now);
    expect(at).toEqual(now());
    expect(JSON.parse(document)).toEqual({
      '@timestamp': '2026-03-04T05:06:07.000Z',
      level: 'warn',
      message: 'x',
    });
    expect(document).not.toContain('\n');
  });
});

describe('bulkItem', () => {
  it('is an action line and a document line', () => {
    expect(bulkItem('i-2026.01.01', '{"a":1}')).toBe('{"index":{"_index":"i-2026.01.01"}}\n{"a":1}\n');
  });
});

describe('readBulkResponse', () => {
  it('accepts everything when errors is false or the body is not JSON', () => {
    expect(readBulkResponse('{"took":1,"errors":false,"items":[]}', 3)).toEqual({ retry: [], rejected: 0 });
    expect(readBulkResponse('<html>', 3)).toEqual({ retry: [], rejected: 0 });
  });

  it('retries 429 and 5xx items and counts the rest as rejected', () => {
    const body = JSON.stringify({
      errors: true,
      items: [
        { index: { status: 201 } },
        { index: { status: 429, error: { type: 'es_rejected_execution_exception' } } },
        { create: { status: 400, error: { type: 'mapper_parsing_exception' } } },
        { index: { status: 503, error: { type: 'unavailable_shards_exception' } } },
      ],
    });
    expect(readBulkResponse(body, 4)).toEqual({
      retry: [1, 3],
      rejected: 1,
      rejectReason: 'mapper_parsing_exception',
    });
  });
});

describe('failureReason', () => {
  it('names the cause without any URL', () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    expect(failureReason(refused)).toBe('ECONNREFUSED');
    expect(failureReason(new DOMException('timed out', 'TimeoutError'))).toBe('TimeoutError');
    expect(failureReason('weird')).toBe('network error');
  });
});
