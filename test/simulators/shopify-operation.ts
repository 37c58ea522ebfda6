/**
 * What the Shopify simulator checks of a GraphQL operation before it answers,
 * as Shopify's GraphQL server does (HTTP 200, top-level `errors`, no `data`):
 * the operation named by `operationName` is in the document, every declared
 * `$variable` is used and every used one declared, each variable's value fits
 * its declared type, a connection argument gets a variable of its own type,
 * and the answer holds only the fields the query selects.
 *
 * A small reader of the GraphQL syntax the connector's operations use
 * (operations, variables with defaults, arguments, aliases, nested selections).
 * Fragments and directives are outside it and answered with an error naming
 * the simulator, never accepted unchecked.
 */

export type GraphQlError = { message: string; extensions?: Record<string, unknown> };

export interface TypeRef {
  /** The named type, e.g. `Int` for `[Int!]!`. */
  name: string;
  nonNull: boolean;
  /** The item type of a list type. */
  of?: TypeRef;
}

/** A `$name` in an argument value. */
export class VariableRef {
  constructor(readonly name: string) {}
}

export interface Field {
  /** The key in the answer: the alias when given. */
  key: string;
  name: string;
  /** Argument values by name: literals as JSON values (an enum as its name), variables as VariableRef. */
  args: Map<string, unknown>;
  selections?: Field[];
}

export interface Operation {
  kind: 'query' | 'mutation' | 'subscription';
  name?: string;
  variables: Map<string, { type: TypeRef; default?: unknown }>;
  /** Every `$name` used in an argument, in order. */
  used: string[];
  selections: Field[];
}

type Token = { kind: 'punct' | 'name' | 'value'; text: string };

/** Shopify's connection arguments the connector passes as variables, with their types. */
const CONNECTION_ARGS: Record<string, string> = {
  first: 'Int',
  last: 'Int',
  after: 'String',
  before: 'String',
  query: 'String',
  reverse: 'Boolean',
};

class SyntaxProblem extends Error {}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const re =
    /\s+|,|#[^\n]*|(\.\.\.|[{}()[\]:!$=@])|([_A-Za-z][_0-9A-Za-z]*)|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\\n]|\\.)*")/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) throw new SyntaxProblem(`Parse error on "${text[at]}" at offset ${at}`);
    at = re.lastIndex;
    if (m[1]) tokens.push({ kind: 'punct', text: m[1] });
    else if (m[2]) tokens.push({ kind: 'name', text: m[2] });
    else if (m[3]) tokens.push({ kind: 'value', text: m[3] });
  }
  return tokens;
}

/** The document's operations, or the parse error Shopify would give. */
export function readOperations(text: string): Operation[] | GraphQlError {
  try {
    const tokens = tokenize(text);
    let i = 0;
    const peek = () => tokens[i];
    const next = (): Token => {
      const t = tokens[i++];
      if (!t) throw new SyntaxProblem('Parse error on end of document');
      return t;
    };
    const expect = (text: string) => {
      const t = next();
      if (t.text !== text) throw new SyntaxProblem(`Parse error on "${t.text}", expected "${text}"`);
    };
    const name = () => {
      const t = next();
      if (t.kind !== 'name') throw new SyntaxProblem(`Parse error on "${t.text}", expected a name`);
      return t.text;
    };
    const unsupported = (what: string) => new SyntaxProblem(`The Shopify simulator does not read ${what}`);

    const typeRef = (): TypeRef => {
      let ref: TypeRef;
      if (peek()?.text === '[') {
        next();
        const of = typeRef();
        expect(']');
        ref = { name: of.name, nonNull: false, of };
      } else {
        ref = { name: name(), nonNull: false };
      }
      if (peek()?.text === '!') {
        next();
        ref.nonNull = true;
      }
      return ref;
    };

    const value = (used: string[] | undefined): unknown => {
      const t = next();
      if (t.text === '$') {
        const v = name();
        if (!used) throw new SyntaxProblem(`Parse error on "$${v}": a default value cannot be a variable`);
        used.push(v);
        return new VariableRef(v);
      }
      if (t.text === '[') {
        const list: unknown[] = [];
        while (peek()?.text !== ']') list.push(value(used));
        next();
        return list;
      }
      if (t.text === '{') {
        const object: Record<string, unknown> = {};
        while (peek()?.text !== '}') {
          const key = name();
          expect(':');
          object[key] = value(used);
        }
        next();
        return object;
      }
      if (t.kind === 'punct') throw new SyntaxProblem(`Parse error on "${t.text}"`);
      if (t.kind === 'value') return JSON.parse(t.text) as unknown;
      return t.text === 'true' ? true : t.text === 'false' ? false : t.text === 'null' ? null : t.text;
    };

    const selectionSet = (used: string[]): Field[] => {
      expect('{');
      const fields: Field[] = [];
      while (peek()?.text !== '}') {
        if (peek()?.text === '...') throw unsupported('fragments');
        const key = name();
        let fieldName = key;
        if (peek()?.text === ':') {
          next();
          fieldName = name();
        }
        const args = new Map<string, unknown>();
        if (peek()?.text === '(') {
          next();
          while (peek()?.text !== ')') {
            const arg = name();
            expect(':');
            args.set(arg, value(used));
          }
          next();
        }
        if (peek()?.text === '@') throw unsupported('directives');
        const field: Field = { key, name: fieldName, args };
        if (peek()?.text === '{') field.selections = selectionSet(used);
        fields.push(field);
      }
      next();
      if (fields.length === 0) throw new SyntaxProblem('Parse error on "}": a selection set cannot be empty');
      return fields;
    };

    const operations: Operation[] = [];
    while (i < tokens.length) {
      const t = peek();
      if (t.text === 'fragment') throw unsupported('fragments');
      let kind: Operation['kind'] = 'query';
      let opName: string | undefined;
      const variables: Operation['variables'] = new Map();
      if (t.text !== '{') {
        const k = name();
        if (k !== 'query' && k !== 'mutation' && k !== 'subscription')
          throw new SyntaxProblem(`Parse error on "${k}" (IDENTIFIER)`);
        kind = k;
        if (peek()?.kind === 'name') opName = name();
        if (peek()?.text === '(') {
          next();
          while (peek()?.text !== ')') {
            expect('$');
            const v = name();
            expect(':');
            const type = typeRef();
            let byDefault: unknown;
            if (peek()?.text === '=') {
              next();
              byDefault = value(undefined);
            }
            variables.set(v, { type, default: byDefault });
          }
          next();
        }
        if (peek()?.text === '@') throw unsupported('directives');
      }
      const used: string[] = [];
      const selections = selectionSet(used);
      operations.push({ kind, name: opName, variables, used, selections });
    }
    if (operations.length === 0) throw new SyntaxProblem('Parse error on end of document');
    return operations;
  } catch (e) {
    // Shopify's parse errors carry no code.
    if (e instanceof SyntaxProblem) return { message: e.message };
    throw e;
  }
}

/** The operation to run: the one `operationName` names, or the only one. */
export function pickOperation(ops: Operation[], operationName: string | undefined): Operation | GraphQlError {
  if (operationName !== undefined) {
    const op = ops.find((o) => o.name === operationName);
    return op ?? { message: `No operation named "${operationName}"` };
  }
  if (ops.length === 1) return ops[0];
  return { message: 'An operation name is required' };
}

const typeText = (t: TypeRef): string => (t.of ? `[${typeText(t.of)}]` : t.name) + (t.nonNull ? '!' : '');
const opLabel = (op: Operation) => op.name ?? `anonymous ${op.kind}`;

/** Declared but unused and used but undeclared variables, and variables of the wrong type for an argument. */
export function checkVariableUse(op: Operation): GraphQlError[] {
  const errors: GraphQlError[] = [];
  for (const declared of op.variables.keys()) {
    if (!op.used.includes(declared))
      errors.push({
        message: `Variable $${declared} is declared by ${opLabel(op)} but not used`,
        extensions: { code: 'variableNotUsed', variableName: declared },
      });
  }
  for (const used of new Set(op.used)) {
    if (!op.variables.has(used))
      errors.push({
        message: `Variable $${used} is used by ${opLabel(op)} but not declared`,
        extensions: { code: 'variableNotDefined', variableName: used },
      });
  }
  const visit = (fields: Field[]) => {
    for (const f of fields) {
      for (const [arg, given] of f.args) {
        if (!(given instanceof VariableRef)) continue;
        const v = given.name;
        const declared = op.variables.get(v)?.type;
        const expected = CONNECTION_ARGS[arg];
        if (declared && expected && (declared.of || declared.name !== expected))
          errors.push({
            message: `Type mismatch on variable $${v} and argument ${arg} (${typeText(declared)} / ${expected})`,
            extensions: {
              code: 'variableMismatch',
              variableName: v,
              typeName: typeText(declared),
              argumentName: arg,
            },
          });
      }
      if (f.selections) visit(f.selections);
    }
  };
  visit(op.selections);
  return errors;
}

/** Each declared variable's value against its type; an unknown (enum, input) type takes any value. */
export function checkVariableValues(op: Operation, vars: Record<string, unknown>): GraphQlError[] {
  const errors: GraphQlError[] = [];
  for (const [name, { type, default: byDefault }] of op.variables) {
    if (vars[name] === undefined && byDefault !== undefined) continue;
    const problem = valueProblem(type, vars[name]);
    if (problem !== undefined)
      errors.push({
        message: `Variable $${name} of type ${typeText(type)} was provided invalid value`,
        extensions: { value: vars[name] ?? null, problems: [{ path: [], explanation: problem }] },
      });
  }
  return errors;
}

function valueProblem(type: TypeRef, v: unknown): string | undefined {
  if (v === undefined || v === null) return type.nonNull ? 'Expected value to not be null' : undefined;
  if (type.of) {
    for (const item of Array.isArray(v) ? v : [v]) {
      const p = valueProblem(type.of, item);
      if (p !== undefined) return p;
    }
    return undefined;
  }
  const fits: Record<string, (x: unknown) => boolean> = {
    Int: (x) => Number.isInteger(x) && Math.abs(x as number) <= 2 ** 31 - 1,
    Float: (x) => typeof x === 'number' && Number.isFinite(x),
    String: (x) => typeof x === 'string',
    ID: (x) => typeof x === 'string' || Number.isInteger(x),
    Boolean: (x) => typeof x === 'boolean',
  };
  const fit = fits[type.name];
  if (fit && !fit(v)) return `Could not coerce value ${JSON.stringify(v)} to ${type.name}`;
  return undefined;
}

/**
 * The answer to the root field `root`, cut down to the fields it selects,
 * under their keys (aliases), or the errors for fields the answer does not
 * have. The simulator keeps no schema: a field is known when the seeded
 * object holds it, so a field under an empty list is not checked.
 */
export function project(value: unknown, root: Field): { data: unknown } | { errors: GraphQlError[] } {
  const errors: GraphQlError[] = [];
  const walk = (value: unknown, fields: Field[] | undefined, type: string, field: string): unknown => {
    if (value === null || value === undefined) return null;
    if (Array.isArray(value)) return value.map((v) => walk(v, fields, type, field));
    if (typeof value !== 'object') {
      if (fields)
        errors.push({
          message: `Selections can't be made on scalars (field '${field}' returns a scalar but has selections)`,
          extensions: { code: 'selectionMismatch', nodeName: `field '${field}'` },
        });
      return value;
    }
    if (!fields) {
      errors.push({
        message: `Field must have selections (field '${field}' returns an object but has no selections)`,
        extensions: { code: 'selectionMismatch', nodeName: `field '${field}'` },
      });
      return null;
    }
    const record = value as Record<string, unknown>;
    const ownType =
      typeof record.id === 'string' ? /^gid:\/\/shopify\/(\w+)\//.exec(record.id)?.[1] : undefined;
    const typeName = ownType ?? type;
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      if (!(f.name in record)) {
        errors.push({
          message: `Field '${f.name}' doesn't exist on type '${typeName}'`,
          extensions: { code: 'undefinedField', typeName, fieldName: f.name },
        });
      } else {
        out[f.key] = walk(record[f.name], f.selections, `${typeName}.${f.name}`, f.name);
      }
    }
    return out;
  };
  const shaped = walk(value, root.selections, `QueryRoot.${root.name}`, root.name);
  return errors.length > 0 ? { errors } : { data: shaped };
}

/** A field's arguments with each variable replaced by its value (or its default; absent when neither). */
export function argsOf(field: Field, op: Operation, vars: Record<string, unknown>): Record<string, unknown> {
  const resolve = (v: unknown): unknown => {
    if (v instanceof VariableRef) return v.name in vars ? vars[v.name] : op.variables.get(v.name)?.default;
    if (Array.isArray(v)) return v.map(resolve);
    if (typeof v === 'object' && v !== null)
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
    return v;
  };
  const out: Record<string, unknown> = {};
  for (const [name, v] of field.args) {
    const value = resolve(v);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** The field reached by `names` (by field name, not alias) under `fields`, if selected. */
export function fieldAt(fields: Field[] | undefined, ...names: string[]): Field | undefined {
  let found: Field | undefined;
  for (const name of names) {
    found = fields?.find((f) => f.name === name);
    fields = found?.selections;
  }
  return found;
}
