/**
 * Xero's `where` parameter, built only from values the tools' schemas have
 * already narrowed (enum members, GUIDs, calendar days): a caller never
 * writes any of it. Each builder checks its value's shape again, so nothing
 * that could close a quote or a call reaches the expression, whichever tool
 * uses it.
 */
import { GUID } from '../../common/guid';

const FIELD = /^[A-Z][A-Za-z]*(\.[A-Z][A-Za-z]*)*$/;
const WORD = /^[A-Z][A-Z0-9_-]*$/;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

function checked(value: string, shape: RegExp, what: string): string {
  if (!shape.test(value)) throw new Error(`not a ${what} for a Xero where clause: ${JSON.stringify(value)}`);
  return value;
}

/** `Type=="BANK"`, or `(Type=="BANK" OR Type=="CURRENT")` for several; undefined for none. */
export function whereAnyOf(field: string, values: readonly string[] | undefined): string | undefined {
  if (!values?.length) return undefined;
  checked(field, FIELD, 'field');
  const terms = [...new Set(values)].map((v) => `${field}=="${checked(v, WORD, 'code')}"`);
  return terms.length === 1 ? terms[0] : `(${terms.join(' OR ')})`;
}

/** `Contact.ContactID==Guid("…")`. */
export function whereGuid(field: string, id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  return `${checked(field, FIELD, 'field')}==Guid("${checked(id, GUID, 'GUID')}")`;
}

/** `Date>=DateTime(2018, 10, 01)` for a YYYY-MM-DD day. */
export function whereDay(field: string, op: '>=' | '<=', day: string | undefined): string | undefined {
  if (day === undefined) return undefined;
  const [, y, m, d] = DAY.exec(checked(day, DAY, 'day'))!;
  return `${checked(field, FIELD, 'field')}${op}DateTime(${y}, ${m}, ${d})`;
}

/** `IsReconciled==true`. */
export function whereIs(field: string, value: boolean | undefined): string | undefined {
  if (value === undefined) return undefined;
  return `${checked(field, FIELD, 'field')}==${value ? 'true' : 'false'}`;
}

/** The clauses given, joined with AND; undefined when there are none (no `where` is sent). */
export function whereAll(...clauses: (string | undefined)[]): string | undefined {
  const given = clauses.filter((c): c is string => c !== undefined);
  return given.length ? given.join(' AND ') : undefined;
}
