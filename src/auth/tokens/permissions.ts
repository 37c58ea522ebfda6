/**
 * The named permissions an API key can carry (the design's security
 * rules). `admin` grants every other permission within the key's organisation.
 * Adding a permission here is an access change: the route/tool snapshot test
 * and the RFC 9728 `scopes_supported` list follow this constant.
 */
export const PERMISSIONS = [
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
] as const;

export type Permission = (typeof PERMISSIONS)[number];

const KNOWN: ReadonlySet<string> = new Set(PERMISSIONS);

/** True when `value` is one of the known permission names (exact, case-sensitive). */
export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && KNOWN.has(value);
}

/**
 * Whether the granted permissions satisfy `needed`. `admin` satisfies any
 * permission; organisation scoping is the caller's job (it compares the
 * principal's organisation with the resource's), not this function's.
 */
export function hasPermission(granted: readonly string[], needed: Permission): boolean {
  return granted.includes(needed) || granted.includes('admin');
}
