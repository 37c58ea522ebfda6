import { boundedLabel, methodLabel, routeLabel, statusLabel } from './metric-labels';

describe('metric labels', () => {
  it('keeps short identifiers and replaces anything else with "other"', () => {
    expect(boundedLabel('insufficient_scope')).toBe('insufficient_scope');
    expect(boundedLabel('xero:v2.1-beta')).toBe('xero:v2.1-beta');
    expect(boundedLabel('has space')).toBe('other');
    expect(boundedLabel('x'.repeat(65))).toBe('other');
    expect(boundedLabel('')).toBe('other');
    expect(boundedLabel(undefined)).toBe('other');
    expect(boundedLabel('quote"brace}')).toBe('other');
  });

  it('keeps the standard methods, in upper case', () => {
    expect(methodLabel('get')).toBe('GET');
    expect(methodLabel('DELETE')).toBe('DELETE');
    expect(methodLabel('PROPFIND')).toBe('OTHER');
    expect(methodLabel(undefined)).toBe('OTHER');
  });

  it('keeps real status codes only', () => {
    expect(statusLabel(201)).toBe('201');
    expect(statusLabel('404')).toBe('404');
    expect(statusLabel(42)).toBe('0');
    expect(statusLabel(100)).toBe('100');
    expect(statusLabel(599)).toBe('599');
    expect(statusLabel(99)).toBe('0');
    expect(statusLabel(600)).toBe('0');
    expect(statusLabel(200.5)).toBe('0');
    expect(statusLabel(undefined)).toBe('0');
  });

  it('uses the route pattern, or "unmatched"', () => {
    expect(routeLabel({ path: '/admin/api-keys/:id' })).toBe('/admin/api-keys/:id');
    expect(routeLabel(undefined)).toBe('unmatched');
    expect(routeLabel({ path: /regex/ })).toBe('unmatched');
    expect(routeLabel({ path: '' })).toBe('unmatched');
    expect(routeLabel({ path: `/${'a'.repeat(199)}` })).toBe(`/${'a'.repeat(199)}`);
    expect(routeLabel({ path: `/${'a'.repeat(200)}` })).toBe('unmatched');
  });
});
