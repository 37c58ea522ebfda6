/**
 * Xero's dates as MCP clients get them: ISO 8601. Xero writes Microsoft JSON
 * dates, `/Date(1539993600000+0000)/` on entities and `/Date(1455827393000)/`
 * elsewhere; the milliseconds are UTC whatever the offset says (the offset
 * only names the zone the value was entered in), so the offset is checked
 * for shape and otherwise ignored.
 */
const MS_DATE = /^\/Date\((-?\d{1,15})([+-]\d{4})?\)\/$/;

/** An ISO 8601 instant (`2018-10-20T00:00:00.000Z`), or undefined for anything else. */
export function xeroDateTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = MS_DATE.exec(value.trim());
  if (ms) return isoOf(Number(ms[1]));
  // Some fields come as ISO already (DateString, /connections' dates), without a zone: UTC.
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(value)) return isoOf(Date.parse(`${value}Z`));
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(value)) return isoOf(Date.parse(value));
  return undefined;
}

/** A calendar date (`2018-10-20`), for fields that are days rather than instants (an invoice's date, its due date). */
export function xeroDate(value: unknown): string | undefined {
  return xeroDateTime(value)?.slice(0, 10);
}

function isoOf(ms: number): string | undefined {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** `If-Modified-Since` as Xero reads it: a UTC timestamp `YYYY-MM-DDTHH:mm:ss`. */
export function ifModifiedSince(iso: string): string {
  return new Date(iso).toISOString().slice(0, 19);
}
