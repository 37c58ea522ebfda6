/** A GUID / UUID in its 8-4-4-4-12 hex form, either case (Xero tenant ids, Unleashed ids). */
export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
