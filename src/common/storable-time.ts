/**
 * Whether `date` is a moment both databases store and compare the same way:
 * a UTC year from 1 to 9999. PostgreSQL refuses year 0 and before, and
 * anything past 9999 in ISO text; SQLite, comparing ISO text, would answer
 * such a bound with the wrong rows instead. A time given with an offset is
 * judged after it: `0001-01-01T00:00:00+01:00` is in year 0.
 */
export function isStorableTime(date: Date): boolean {
  const year = date.getUTCFullYear();
  return !Number.isNaN(date.getTime()) && year >= 1 && year <= 9999;
}
