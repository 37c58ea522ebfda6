import type { z } from 'zod';

/** One bad input field: a dotted path (`invoice.lines.0`) and what is wrong with it. */
export interface FieldError {
  field: string;
  message: string;
}

/** zod's wording for a field that is absent ("Invalid input: expected string, received undefined"). */
export const MISSING_FIELD_MESSAGE = /received undefined$/;

export interface FieldErrorOptions {
  /** What a value that is not an object at all is named (`(body)`, `(arguments)`). */
  root?: string;
  /** The fields are a query string's parameters: a repeated one, an unknown one are named as such. */
  query?: boolean;
  /** The fields the input may have (its top level), named to one who gave another there. */
  known?: readonly string[];
  /**
   * The schema the input was parsed with: an unknown key inside a nested
   * object (`messages.0.name`) is then told that object's fields too.
   */
  schema?: z.ZodType;
}

/** Wrappers whose inner schema holds the fields (`.optional()`, `.default()`, ...). */
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

interface SchemaDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
}
const defOf = (s: z.ZodType | undefined): SchemaDef | undefined =>
  (s as unknown as { _zod?: { def?: SchemaDef } } | undefined)?._zod?.def;

/**
 * The fields of the object `schema` has at `path` (through objects, arrays
 * and the wrappers above); undefined where it is no plain object (a union,
 * a record) or the path leads nowhere.
 */
export function fieldsAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let at: z.ZodType | undefined = schema;
  for (let i = 0; ; i++) {
    let def = defOf(at);
    while (def && (WRAPPERS.has(def.type) || def.type === 'pipe')) {
      at = def.type === 'pipe' ? def.in : def.innerType;
      def = defOf(at);
    }
    if (!def) return undefined;
    if (i === path.length) return def.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
    if (def.type === 'object') at = def.shape?.[String(path[i])];
    else if (def.type === 'array') at = def.element;
    else return undefined;
  }
}

/** The most bad fields one answer lists (`errors`, and its message); a count stands for the rest. */
export const MAX_FIELD_ERRORS = 20;

/** What an unknown field or query parameter is told. */
export function unknownFieldMessage(query: boolean, known?: readonly string[]): string {
  const what = query ? 'is not a known query parameter' : 'is not a known field';
  if (!known) return what;
  return `${what} (${known.length === 0 ? 'none is taken' : `known: ${known.join(', ')}`})`;
}

/** zod's own wording (not a message a schema set): rewritten into the project's. */
const ZOD_DEFAULT = /^(Invalid input|Invalid option|Too big|Too small)\b/;

/** `a string`, `an array`, `a number`: the article a type name takes. */
const aType = (t: string): string => {
  const name = t === 'record' ? 'object' : t;
  return `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name}`;
};

/** The message of one zod issue in the project's words, when zod's default would be shown. */
function plainMessage(issue: z.core.$ZodIssue, query: boolean): string {
  if (!ZOD_DEFAULT.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type': {
      const received = /received (\w+)$/.exec(issue.message)?.[1];
      if (query && received === 'array') return 'must be given once';
      return `must be ${aType(issue.expected)}${received ? `, not ${aType(received)}` : ''}`;
    }
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}`
        : `must be one of: ${issue.values.map(String).join(', ')}`;
    case 'too_big':
    case 'too_small': {
      const n = Number(issue.code === 'too_big' ? issue.maximum : issue.minimum);
      const bound = `${issue.code === 'too_big' ? 'at most' : 'at least'} ${n}`;
      const unit = (word: string) => `${word}${n === 1 ? '' : 's'}`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must have ${bound} ${unit('item')}`;
      if (issue.origin === 'string') return `must be ${bound} ${unit('character')}`;
      return `must be ${bound}`;
    }
    case 'invalid_union': {
      // Each alternative refused the value's type: name the types it may be.
      const types = issue.errors.map((branch) =>
        branch.length === 1 && branch[0].code === 'invalid_type' ? branch[0].expected : undefined,
      );
      if (types.every((t): t is string => t !== undefined))
        return `must be ${[...new Set(types)].map(aType).join(' or ')}`;
      return 'matches none of the accepted forms';
    }
    default:
      return issue.message;
  }
}

/**
 * Flattens zod issues into one entry per bad field, the shape every endpoint
 * and tool uses to name what to fix: paths joined with dots, unknown keys
 * named one by one, a missing field called "is required", a non-object body
 * called out as such, and zod's own wording ("Too big: expected array to
 * have <=20 items") put plainly ("must have at most 20 items").
 */
export function fieldErrors(error: z.ZodError, rootOrOptions: string | FieldErrorOptions = {}): FieldError[] {
  const {
    root = '(body)',
    query = false,
    known,
    schema,
  } = typeof rootOrOptions === 'string' ? { root: rootOrOptions } : rootOrOptions;
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({
          field: base ? `${base}.${key}` : key,
          // `known` lists the top level's fields: a nested object's unknown key is told its own, when the
          // schema says them.
          message: unknownFieldMessage(query, base ? schema && fieldsAt(schema, issue.path) : known),
        });
    } else if (issue.code === 'invalid_type' && issue.path.length === 0) {
      out.push({ field: root, message: 'must be a JSON object' });
    } else if (issue.code === 'invalid_type' && MISSING_FIELD_MESSAGE.test(issue.message)) {
      out.push({ field: base || root, message: 'is required' });
    } else {
      out.push({ field: base || root, message: plainMessage(issue, query) });
    }
  }
  return out;
}

/** `field: message; field: message` (at most `max` entries, then "and N more"). */
export function describeFieldErrors(errors: FieldError[], max = 5): string {
  const parts = errors.slice(0, max).map((e) => `${e.field}: ${e.message}`);
  if (errors.length > max) parts.push(`and ${errors.length - max} more`);
  return parts.join('; ');
}
