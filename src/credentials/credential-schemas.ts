import { z } from 'zod';
import { FieldError, fieldErrors } from '../common/field-errors';
import { GUID } from '../common/guid';

/**
 * What each service's credentials look like, checked on every write (REST PUT
 * and the connector `update`). Unknown keys are refused; values are never
 * echoed in an error message (regex checks carry their own message).
 *
 * Xero has two shapes, told apart by `grantType` (the OAuth grant the
 * connector will use, as Xero's token endpoint names it):
 * - an OAuth app: `grantType` absent or `"authorization_code"`, with
 *   `clientId`, `clientSecret`, optional `refreshToken` and `tenantIds`;
 *   stored with `grantType: "authorization_code"`.
 * - a custom connection: `grantType: "client_credentials"`, `clientId`,
 *   `clientSecret` only (Xero returns no refresh token for it).
 */
const MAX_SECRET = 4096;
/** Secrets travel in HTTP headers, which cannot carry control characters (a pasted line break, say). */
const secret = () =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(MAX_SECRET, `must be at most ${MAX_SECRET} characters`)
    // abort: a line break is not also told it is not ASCII (headerSecret).
    .regex(/^[^\u0000-\u001f\u007f]*$/, {
      message: 'must not contain control characters (a line break, a tab)',
      abort: true,
    })
    // A space pasted with the key: fetch drops it from a header value, an HMAC or Basic auth keeps it.
    .refine((v) => v === v.trim(), 'must not begin or end with a space (pasted with the key?)');

/**
 * A secret sent as an HTTP header value as it is (Shopify's X-Shopify-Access-Token, Anthropic's
 * x-api-key, OpenAI's Bearer): printable ASCII. fetch refuses a header holding a character above
 * U+00FF (a pasted "€" or curly quote), and sends U+0080-U+00FF as one byte each rather than the
 * UTF-8 the value was typed in, so such a key could be stored but never used. Xero's secrets go
 * URL-encoded and Unleashed's key into an HMAC, so any text reaches them as typed.
 */
const headerSecret = () =>
  secret().regex(
    /^[\u0020-\u007e]*$/,
    'must be printable ASCII, as an HTTP header carries it (no "€", curly quote or other non-ASCII character)',
  );

const GRANT_TYPE_MESSAGE =
  'must be "authorization_code" (an OAuth app; the default) or "client_credentials" (a custom connection)';

const XERO_OAUTH = z.strictObject({
  grantType: z.literal('authorization_code', { error: GRANT_TYPE_MESSAGE }).default('authorization_code'),
  clientId: secret(),
  clientSecret: secret(),
  refreshToken: secret().optional(),
  tenantIds: z.array(z.string().regex(GUID, 'must be a Xero tenant id (a GUID)')).max(100).optional(),
});
const XERO_CUSTOM_CONNECTION = z.strictObject({
  grantType: z.literal('client_credentials'),
  clientId: secret(),
  clientSecret: secret(),
});
const XERO = z.union([XERO_OAUTH, XERO_CUSTOM_CONNECTION]);

const SHOPIFY = z.strictObject({
  shop: z
    .string()
    .max(255)
    .regex(/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/, 'must be a shop host like "my-store.myshopify.com"'),
  accessToken: headerSecret(),
  apiVersion: z.string().regex(/^\d{4}-(01|04|07|10)$/, 'must be a Shopify API version YYYY-01|04|07|10'),
});

const UNLEASHED = z.strictObject({
  apiId: z.string().regex(GUID, 'must be a GUID'),
  apiKey: secret(),
});

const API_KEY_ONLY = z.strictObject({ apiKey: headerSecret() });

export const CREDENTIAL_SCHEMAS = {
  xero: XERO,
  shopify: SHOPIFY,
  unleashed: UNLEASHED,
  anthropic: API_KEY_ONLY,
  openai: API_KEY_ONLY,
} as const;

export type CredentialService = keyof typeof CREDENTIAL_SCHEMAS;
export const CREDENTIAL_SERVICES = Object.keys(CREDENTIAL_SCHEMAS) as CredentialService[];

export type XeroCredentials = z.output<typeof XERO>;
export type ShopifyCredentials = z.output<typeof SHOPIFY>;
export type UnleashedCredentials = z.output<typeof UNLEASHED>;
export type ApiKeyCredentials = z.output<typeof API_KEY_ONLY>;
/** The decrypted value of each service, as connectors receive it. */
export type CredentialValue<S extends CredentialService> = z.output<(typeof CREDENTIAL_SCHEMAS)[S]>;

export function isCredentialService(value: unknown): value is CredentialService {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(CREDENTIAL_SCHEMAS, value);
}

export type { FieldError } from '../common/field-errors';

export type ParsedCredential<S extends CredentialService> =
  { ok: true; value: CredentialValue<S> } | { ok: false; errors: FieldError[] };

/**
 * Validates `body` for `service`. Xero picks its shape by `grantType` first,
 * so errors name the fields of that shape rather than a union's alternatives.
 */
export function parseCredential<S extends CredentialService>(service: S, body: unknown): ParsedCredential<S> {
  let schema: z.ZodType = CREDENTIAL_SCHEMAS[service];
  if (service === 'xero') {
    const grant = isRecord(body) ? body.grantType : undefined;
    schema = grant === 'client_credentials' ? XERO_CUSTOM_CONNECTION : XERO_OAUTH;
  }
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, value: result.data as CredentialValue<S> };
  return { ok: false, errors: fieldErrors(result.error) };
}

/** JSON Schema (OpenAPI 3.0 dialect) of each service's body, for the OpenAPI document. */
export function credentialJsonSchemas(): Record<string, Record<string, unknown>> {
  const schemas: Record<string, Record<string, unknown>> = {};
  const add = (name: string, schema: z.ZodType) => {
    schemas[name] = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' }) as Record<string, unknown>;
  };
  add('XeroOAuthCredentials', XERO_OAUTH);
  add('XeroCustomConnectionCredentials', XERO_CUSTOM_CONNECTION);
  add('ShopifyCredentials', SHOPIFY);
  add('UnleashedCredentials', UNLEASHED);
  add('ApiKeyCredentials', API_KEY_ONLY);
  return schemas;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
