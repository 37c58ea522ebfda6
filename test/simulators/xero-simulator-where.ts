/**
 * The part of Xero's `where` language the simulator reads: comparisons of a
 * field (dotted for a nested one, `Contact.ContactID`) with a "string", a
 * Guid("…") (any case), a DateTime(y, m, d), true/false, a number or null,
 * by == (or =), != (or <>), >, >=, < and <=, joined by AND (or &&) and OR
 * (or ||), in any case, AND binding tighter, with parentheses. The value must
 * be of the field's type (a GUID field takes Guid("…"), not a "string"), and
 * a GUID, a boolean or null is only compared with == or !=. Anything else,
 * or a field the resource does not have, is Xero's 400 QueryParseException,
 * so a client that writes the expression wrongly fails the tests rather than
 * reading everything. Not read (refused here, taken by Xero): methods such
 * as Name.Contains("…").
 */
import { msOf, queryParseError, SimAnswer } from './xero-simulator-shapes';

type Item = Record<string, unknown>;
type Test = (item: object) => boolean;
export type FieldType = 'string' | 'guid' | 'date' | 'bool' | 'number';
/** The fields a resource can be filtered and ordered on, with their types. */
export type Fields = Readonly<Record<string, FieldType>>;
type Value =
  | { kind: 'string' | 'guid' | 'bool' | 'number'; v: string | boolean | number }
  | { kind: 'date'; v: number }
  | { kind: 'null'; v: null };

/** The .NET names Xero's messages give the types. */
const NET: Record<FieldType | 'null', string> = {
  null: 'Object',
  string: 'String',
  guid: 'Guid',
  date: 'DateTime',
  bool: 'Boolean',
  number: 'Decimal',
};

const TERM =
  /^([A-Za-z][A-Za-z.]*)\s*(==|=|!=|<>|>=|<=|>|<)\s*("([^"]*)"|[Gg][Uu][Ii][Dd]\("([0-9a-fA-F-]{36})"\)|DateTime\((\d{4}),\s*(\d{1,2}),\s*(\d{1,2})\)|true|false|null|-?\d+(?:\.\d+)?)/;

/** A test of items for `where`, or the 400 Xero answers. `fields` are the ones `type` (`Invoice`, …) has. */
export function whereFilter(where: string | null, fields: Fields, type: string): Test | SimAnswer {
  if (where === null) return () => true;
  try {
    const parser = new Parser(where, fields, type);
    const test = parser.or();
    parser.end();
    return test;
  } catch (e) {
    return queryParseError((e as Error).message);
  }
}

class Parser {
  private at = 0;

  constructor(
    private readonly text: string,
    private readonly fields: Fields,
    private readonly type: string,
  ) {}

  or(): Test {
    const parts = [this.and()];
    while (this.word('OR', '||')) parts.push(this.and());
    return (item) => parts.some((p) => p(item));
  }

  end(): void {
    this.space();
    if (this.at < this.text.length) throw new Error(`unexpected "${this.text.slice(this.at, this.at + 20)}"`);
  }

  private and(): Test {
    const parts = [this.primary()];
    while (this.word('AND', '&&')) parts.push(this.primary());
    return (item) => parts.every((p) => p(item));
  }

  private primary(): Test {
    this.space();
    if (this.text[this.at] === '(') {
      this.at += 1;
      const inner = this.or();
      this.space();
      if (this.text[this.at] !== ')') throw new Error('a parenthesis is not closed');
      this.at += 1;
      return inner;
    }
    const m = TERM.exec(this.text.slice(this.at));
    if (!m) throw new Error(`cannot read "${this.text.slice(this.at, this.at + 20)}"`);
    this.at += m[0].length;
    const [, field] = m;
    const op = m[2] === '=' ? '==' : m[2] === '<>' ? '!=' : m[2];
    if (!Object.hasOwn(this.fields, field))
      throw new Error(`No property or field '${field}' exists in type '${this.type}'`);
    const fieldType = this.fields[field];
    const value: Value =
      m[4] !== undefined
        ? { kind: 'string', v: m[4] }
        : m[5] !== undefined
          ? { kind: 'guid', v: m[5].toLowerCase() }
          : m[6] !== undefined
            ? { kind: 'date', v: day(+m[6], +m[7], +m[8]) }
            : m[3] === 'null'
              ? { kind: 'null', v: null }
              : m[3] === 'true' || m[3] === 'false'
                ? { kind: 'bool', v: m[3] === 'true' }
                : { kind: 'number', v: Number(m[3]) };
    const equality = op === '==' || op === '!=';
    const typed = value.kind === fieldType || value.kind === 'null';
    if (!typed || (!equality && ['guid', 'bool', 'null'].some((k) => k === fieldType || k === value.kind)))
      throw new Error(
        `Operator '${op}' incompatible with operand types '${NET[fieldType]}' and '${NET[value.kind]}'`,
      );
    return (item) => compare(read(item as Item, field), op, value);
  }

  /** The keyword `w` (in any case, between spaces) or its symbol (`&&`, `||`). */
  private word(w: string, symbol: string): boolean {
    const rest = this.text.slice(this.at);
    const m = new RegExp(`^\\s+${w}\\s+`, 'i').exec(rest) ?? /^\s*(&&|\|\|)\s*/.exec(rest);
    if (!m || (m[1] !== undefined && m[1] !== symbol)) return false;
    this.at += m[0].length;
    return true;
  }

  private space(): void {
    while (this.text[this.at] === ' ') this.at += 1;
  }
}

/** The ms of a calendar day; a day that does not exist (month 13, 31 June) cannot be made, as in .NET. */
function day(y: number, m: number, d: number): number {
  const date = new Date(0);
  date.setUTCFullYear(y, m - 1, d); // not Date.UTC, which reads years 0-99 as 1900-1999
  if (y < 1 || date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d)
    throw new Error('Year, Month, and Day parameters describe an un-representable DateTime.');
  return date.getTime();
}

function read(item: Item, path: string): unknown {
  let v: unknown = item;
  for (const key of path.split('.')) v = (v as Item | undefined)?.[key];
  return v;
}

function compare(actual: unknown, op: string, value: Value): boolean {
  if (value.kind === 'null') return (actual === undefined || actual === null) === (op === '==');
  let a: string | number | boolean | undefined;
  if (value.kind === 'date') a = typeof actual === 'string' ? msOf(actual) : undefined;
  else if (value.kind === 'guid') a = typeof actual === 'string' ? actual.toLowerCase() : undefined;
  else a = actual as typeof a;
  if (a === undefined) return op === '!=';
  const b = value.v;
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '>=':
      return a >= b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a < b;
  }
}

/** Sorts a copy by `order` (`Name`, `Date DESC`, …) over the fields given; undefined for an order it cannot read. */
export function ordered<T extends object>(items: T[], order: string | null, fields: Fields): T[] | undefined {
  if (order === null) return items;
  const m = /^([A-Za-z][A-Za-z.]*)(?:\s+(ASC|DESC))?$/.exec(order.trim());
  if (!m || !Object.hasOwn(fields, m[1])) return undefined;
  const sign = m[2] === 'DESC' ? -1 : 1;
  const key = (i: T) => {
    const v = read(i as Item, m[1]);
    return typeof v === 'string' && v.startsWith('/Date(') ? msOf(v) : (v as string | number);
  };
  return [...items].sort((x, y) => (key(x) < key(y) ? -sign : key(x) > key(y) ? sign : 0));
}
