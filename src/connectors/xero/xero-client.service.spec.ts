import { ToolError } from '../../mcp/tool-pipeline.service';
import { storedTenantIds } from './xero-client.service';

describe('storedTenantIds', () => {
  const app = { grantType: 'authorization_code' as const, clientId: 'c', clientSecret: 's' };
  const T1 = '9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a';

  it('gives the stored GUIDs, or nothing when none are stored or the connection is a custom one', () => {
    expect(storedTenantIds({ ...app, tenantIds: [T1] })).toEqual([T1]);
    expect(storedTenantIds({ ...app, tenantIds: [] })).toBeUndefined();
    expect(storedTenantIds(app)).toBeUndefined();
    expect(
      storedTenantIds({ grantType: 'client_credentials', clientId: 'c', clientSecret: 's' }),
    ).toBeUndefined();
  });

  it('refuses a record stored before the schema checked them, without quoting the bad value', () => {
    let caught: unknown;
    try {
      storedTenantIds({ ...app, tenantIds: [T1, `${T1}\r\nx-injected: 1`] });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ToolError);
    expect((caught as ToolError).code).toBe('xero_tenant_ids_invalid');
    expect((caught as ToolError).message).not.toContain('x-injected');
  });
});
