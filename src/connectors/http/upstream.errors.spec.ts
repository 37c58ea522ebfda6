import { UpstreamError } from './upstream.errors';

describe('UpstreamError', () => {
  it('quotes a detail on one line, cut to 300 characters, whatever the connector handed it', () => {
    const detail = `first line\r\nsecond\tline\u0000 ${'y'.repeat(1000)}`;
    for (const e of [
      UpstreamError.invalidRequest('xero', detail),
      UpstreamError.notFound('xero', detail),
      UpstreamError.badResponse('xero', detail),
      UpstreamError.accountUnavailable('shopify', detail),
    ]) {
      expect(e.message).not.toMatch(/[\u0000-\u001f\u007f]/);
      expect(e.message).toContain('first line second line');
      expect(e.message).toContain('y'.repeat(200));
      expect(e.message).not.toContain('y'.repeat(300));
      expect(e.message).toContain('…');
    }
  });
});
