import { PERMISSIONS, hasPermission, isPermission } from './permissions';

describe('permissions', () => {
  it('lists exactly the permissions the design names (README, docs/design.md)', () => {
    expect([...PERMISSIONS]).toEqual([
      'xero:read',
      'shopify:read',
      'unleashed:read',
      'ai:invoke',
      'credentials:read',
      'credentials:write',
      'audit:read',
      'metrics:read',
      'keys:admin',
      'admin',
    ]);
  });

  it('isPermission accepts only exact known names', () => {
    for (const p of PERMISSIONS) expect(isPermission(p)).toBe(true);
    for (const v of [
      'Admin',
      'xero:write',
      'xero:read ',
      '',
      'toString',
      '__proto__',
      1,
      null,
      undefined,
      ['admin'],
    ]) {
      expect(isPermission(v)).toBe(false);
    }
  });

  it('hasPermission: a granted permission satisfies only itself', () => {
    expect(hasPermission(['xero:read'], 'xero:read')).toBe(true);
    expect(hasPermission(['xero:read'], 'shopify:read')).toBe(false);
    expect(hasPermission(['keys:admin'], 'admin')).toBe(false);
    expect(hasPermission(['keys:admin'], 'credentials:write')).toBe(false);
    expect(hasPermission([], 'metrics:read')).toBe(false);
  });

  it('hasPermission: admin satisfies every permission', () => {
    for (const p of PERMISSIONS) expect(hasPermission(['admin'], p)).toBe(true);
  });
});
