/**
 * The authenticated caller of a request: who holds the API key, for which
 * organisation, with which permissions. Services take it as their first
 * argument (`revoke(principal, keyId)`), so the REST route and the MCP tool
 * that do the same thing call the same service.
 */
export interface Principal {
  /** The API key id (the JWT `jti`). */
  keyId: string;
  userId: string;
  organizationId: string;
  permissions: readonly string[];
  /** When the key expires (its token's `exp`); absent: it does not. A key cannot issue one that outlives it. */
  expiresAt?: Date;
}

/** Property on the HTTP request where the global auth guard leaves the principal. */
export const PRINCIPAL_REQUEST_KEY = 'principal';

export interface RequestWithPrincipal {
  [PRINCIPAL_REQUEST_KEY]?: Principal;
}
