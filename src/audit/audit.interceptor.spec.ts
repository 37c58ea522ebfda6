import { isAuditedPath, outcomeForStatus } from './audit.interceptor';

describe('outcomeForStatus (the outcome of an audited REST call, by the status it answered)', () => {
  it.each([
    [200, 'success'],
    [204, 'success'],
    [304, 'success'],
    [400, 'client_error'],
    [401, 'denied'],
    [403, 'denied'],
    [404, 'client_error'],
    [429, 'client_error'],
    [499, 'client_error'],
    [500, 'server_error'],
    [503, 'server_error'],
  ])('%i is %s', (status, outcome) => {
    expect(outcomeForStatus(status)).toBe(outcome);
  });
});

describe('isAuditedPath', () => {
  it('takes each audited prefix and what lies under it, not a path that only begins with its letters', () => {
    for (const path of ['/admin', '/admin/audit', '/credentials', '/credentials/xero'])
      expect([path, isAuditedPath(path)]).toEqual([path, true]);
    for (const path of ['/administrator', '/credentialsx', '/mcp', '/', '/health'])
      expect([path, isAuditedPath(path)]).toEqual([path, false]);
  });
});
