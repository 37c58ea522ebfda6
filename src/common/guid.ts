/**
 * A GUID / UUID in its 8-4-4-4-12 hex form, either case (Xero tenant ids,
 * Unleashed ids). Both cases are spelt out rather than left to the `i` flag:
 * zod writes a regex's source into a tool's JSON Schema `pattern` without its
 * flags, which told clients that only lower-case letters were valid.
 */
export const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * The one form a GUID is used in once taken in: lower case, as Xero and
 * Unleashed give them. A GUID names the same thing whatever the case of its
 * letters, so every place that keys on one (the answer cache, Xero's
 * per-tenant limits, the upstream's tenant header, the audit) must see one
 * spelling of it; a tool's argument schema canonicalises at parse time
 * (`z.string().regex(GUID).overwrite(canonicalGuid)`), a stored or upstream value where
 * the connector reads it.
 */
export const canonicalGuid = (id: string): string => id.toLowerCase();
