import {
  CREDENTIAL_SERVICES,
  credentialJsonSchemas,
  isCredentialService,
  parseCredential,
} from './credential-schemas';

const fields = (service: Parameters<typeof parseCredential>[0], body: unknown): string[] => {
  const r = parseCredential(service, body);
  if (r.ok) throw new Error('expected a validation failure');
  return r.errors.map((e) => e.field);
};

describe('credential schemas', () => {
  it('knows exactly the five services', () => {
    expect(CREDENTIAL_SERVICES).toEqual(['xero', 'shopify', 'unleashed', 'anthropic', 'openai']);
    expect(isCredentialService('xero')).toBe(true);
    expect(isCredentialService('toString')).toBe(false);
    expect(isCredentialService('Xero')).toBe(false);
  });

  describe('xero', () => {
    it('accepts an OAuth app and stores its grant type', () => {
      const r = parseCredential('xero', {
        clientId: 'id',
        clientSecret: 's',
        refreshToken: 'r',
        tenantIds: ['9A0E5D3B-7c1f-4e2a-8b6d-0f1e2d3c4b5a'],
      });
      expect(r).toEqual({
        ok: true,
        value: {
          grantType: 'authorization_code',
          clientId: 'id',
          clientSecret: 's',
          refreshToken: 'r',
          tenantIds: ['9A0E5D3B-7c1f-4e2a-8b6d-0f1e2d3c4b5a'],
        },
      });
      expect(
        parseCredential('xero', { grantType: 'authorization_code', clientId: 'id', clientSecret: 's' }).ok,
      ).toBe(true);
    });

    it('accepts a custom connection, which has no refresh token or tenants', () => {
      const body = { grantType: 'client_credentials', clientId: 'id', clientSecret: 's' };
      expect(parseCredential('xero', body)).toEqual({ ok: true, value: body });
      expect(fields('xero', { ...body, refreshToken: 'r', tenantIds: [] })).toEqual([
        'refreshToken',
        'tenantIds',
      ]);
    });

    it('refuses control characters in a secret and a tenant id that is not a GUID, naming the rule', () => {
      const r = parseCredential('xero', {
        clientId: 'id',
        clientSecret: 'line\nbreak',
        tenantIds: ['9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a\r\nx: 1'],
      });
      expect(r).toEqual({
        ok: false,
        errors: [
          { field: 'clientSecret', message: 'must not contain control characters (a line break, a tab)' },
          { field: 'tenantIds.0', message: 'must be a Xero tenant id (a GUID)' },
        ],
      });
      expect(fields('openai', { apiKey: 'sk-abc\t' })).toEqual(['apiKey']);
    });

    it('refuses a secret that begins or ends with a space, as one pasted with it', () => {
      const message = 'must not begin or end with a space (pasted with the key?)';
      expect(parseCredential('openai', { apiKey: ' sk-abc' })).toEqual({
        ok: false,
        errors: [{ field: 'apiKey', message }],
      });
      expect(
        parseCredential('unleashed', { apiId: '9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a', apiKey: 'key\u00a0' }),
      ).toEqual({ ok: false, errors: [{ field: 'apiKey', message }] });
      expect(fields('xero', { clientId: 'id ', clientSecret: 'secret', refreshToken: ' r' })).toEqual([
        'clientId',
        'refreshToken',
      ]);
      expect(
        fields('shopify', { shop: 'a.myshopify.com', accessToken: 'shpat_x ', apiVersion: '2025-10' }),
      ).toEqual(['accessToken']);
      // A space inside is the key's own.
      expect(parseCredential('anthropic', { apiKey: 'sk ant' }).ok).toBe(true);
    });

    it('names each bad field, unknown keys one by one', () => {
      expect(
        fields('xero', {
          clientId: 3,
          tenantIds: ['9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a', ''],
          extra: 1,
          other: 2,
        }),
      ).toEqual(['clientId', 'clientSecret', 'tenantIds.1', 'extra', 'other']);
      expect(fields('xero', { grantType: 'password', clientId: 'a', clientSecret: 'b' })).toEqual([
        'grantType',
      ]);
    });
  });

  describe('shopify', () => {
    const ok = { shop: 'my-store.myshopify.com', accessToken: 'shpat_x', apiVersion: '2025-07' };
    it('accepts a shop host and a quarterly API version', () => {
      expect(parseCredential('shopify', ok)).toEqual({ ok: true, value: ok });
      const longest = { ...ok, accessToken: `shpat_${'x'.repeat(4090)}` }; // 4096 characters
      expect(parseCredential('shopify', longest)).toEqual({ ok: true, value: longest });
    });
    it.each([
      ['shop', 'my-store.example.com'],
      ['shop', 'https://my-store.myshopify.com'],
      ['shop', 'evil.com/.myshopify.com'],
      // The token goes to this host: a myshopify.com name that goes on elsewhere is not a shop.
      ['shop', 'my-store.myshopify.com.evil.example'],
      ['accessToken', `shpat_${'x'.repeat(4091)}`],
      ['apiVersion', '2025-02'],
      ['apiVersion', 'unstable'],
      ['accessToken', ''],
    ])('refuses %s %p', (field, value) => {
      expect(fields('shopify', { ...ok, [field]: value })).toEqual([field]);
    });
  });

  it('unleashed needs a GUID api id', () => {
    const ok = { apiId: '2F6C4E1A-0B7D-4C1E-9A55-3C2B1D0E9F87', apiKey: 'k' };
    expect(parseCredential('unleashed', ok).ok).toBe(true);
    expect(fields('unleashed', { ...ok, apiId: 'not-a-guid' })).toEqual(['apiId']);
  });

  it.each(['anthropic', 'openai'] as const)('%s takes only an apiKey', (service) => {
    expect(parseCredential(service, { apiKey: 'sk-1' })).toEqual({ ok: true, value: { apiKey: 'sk-1' } });
    expect(fields(service, { apiKey: 'sk-1', org: 'x' })).toEqual(['org']);
    expect(fields(service, {})).toEqual(['apiKey']);
  });

  it('refuses a header-borne key that a header cannot carry as typed; Xero and Unleashed secrets may be any text', () => {
    const message =
      'must be printable ASCII, as an HTTP header carries it (no "€", curly quote or other non-ASCII character)';
    for (const apiKey of ['sk-€1', 'sk-’1', 'sk-é1', 'sk-\u20281'])
      for (const service of ['anthropic', 'openai'] as const)
        expect(parseCredential(service, { apiKey })).toEqual({
          ok: false,
          errors: [{ field: 'apiKey', message }],
        });
    const shopify = { shop: 'my-store.myshopify.com', accessToken: 'shpat_€', apiVersion: '2025-07' };
    expect(fields('shopify', shopify)).toEqual(['accessToken']);
    expect(parseCredential('openai', { apiKey: 'sk-proj_A.b~c+/= 1' }).ok).toBe(true);
    // URL-encoded (Xero) or the key of an HMAC (Unleashed): sent as typed, so taken.
    expect(parseCredential('xero', { clientId: 'id', clientSecret: 'sécret-€' }).ok).toBe(true);
    const unleashed = { apiId: '2F6C4E1A-0B7D-4C1E-9A55-3C2B1D0E9F87', apiKey: 'clé-€' };
    expect(parseCredential('unleashed', unleashed).ok).toBe(true);
  });

  it('names the body itself when it is not an object', () => {
    for (const body of [undefined, null, 'text', [1]]) expect(fields('openai', body)).toEqual(['(body)']);
  });

  it('never echoes a submitted value in an error message', () => {
    const secret = 'sk_live_VERY_SECRET_123';
    const r = parseCredential('shopify', { shop: secret, accessToken: 7, apiVersion: secret });
    expect(JSON.stringify(r)).not.toContain(secret);
  });

  it('describes every body for the OpenAPI document', () => {
    const schemas = credentialJsonSchemas();
    expect(Object.keys(schemas)).toHaveLength(5);
    expect(schemas.ShopifyCredentials).toMatchObject({
      type: 'object',
      required: ['shop', 'accessToken', 'apiVersion'],
      additionalProperties: false,
    });
  });
});
