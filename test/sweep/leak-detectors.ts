/**
 * What the whole-run sweep looks for in captured text: registered secrets (in
 * the forms a logger or serialiser might write them), JWTs, and bearer
 * credentials. Each finding carries an excerpt that never shows a secret whole.
 */
import { MIN_SECRET_LENGTH } from '../support/capture';

export interface RegisteredSecret {
  value: string;
  source: string;
}

/** Captured text to sweep: one file, split into lines. */
export interface Haystack {
  file: string;
  lines: string[];
}

export interface Hit {
  start: number;
  length: number;
  what: string;
}

export interface Finding extends Hit {
  file: string;
  line: number;
  excerpt: string;
}

/** A finder returns the hits in one line of text. */
export type Finder = (text: string) => Hit[];

/** The ways a secret could be written: as is, base64/base64url/hex of its bytes, JSON- or URL-escaped. */
export function secretForms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const forms = [
    value,
    bytes.toString('base64'),
    bytes.toString('base64url'),
    bytes.toString('hex'),
    JSON.stringify(value).slice(1, -1),
    encodeURIComponent(value),
  ];
  return [...new Set(forms)].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

/**
 * Finds any registered secret in a text in one pass: needles are indexed by
 * their first MIN_SECRET_LENGTH characters, so the cost is one map lookup per
 * position however many secrets there are (a full run registers hundreds).
 */
export class SecretIndex {
  private readonly byPrefix = new Map<string, Array<{ needle: string; what: string }>>();
  readonly secretCount: number;
  readonly needleCount: number;

  constructor(secrets: RegisteredSecret[]) {
    const seen = new Set<string>();
    let needles = 0;
    for (const { value, source } of secrets) {
      if (value.length < MIN_SECRET_LENGTH || seen.has(value)) continue;
      seen.add(value);
      for (const needle of secretForms(value)) {
        const prefix = needle.slice(0, MIN_SECRET_LENGTH);
        const list = this.byPrefix.get(prefix) ?? [];
        list.push({ needle, what: `registered secret (${source})` });
        this.byPrefix.set(prefix, list);
        needles += 1;
      }
    }
    this.secretCount = seen.size;
    this.needleCount = needles;
  }

  readonly find: Finder = (text) => {
    const hits: Hit[] = [];
    for (let i = 0; i + MIN_SECRET_LENGTH <= text.length; i++) {
      const candidates = this.byPrefix.get(text.substr(i, MIN_SECRET_LENGTH));
      if (!candidates) continue;
      for (const { needle, what } of candidates) {
        if (text.startsWith(needle, i)) hits.push({ start: i, length: needle.length, what });
      }
    }
    return hits;
  };
}

/**
 * A JWT (compact JWS): a base64url header that starts `eyJ` (`{"`), a payload,
 * and a signature. Stricter than the logger's redaction rule: no word boundary
 * is needed before it, so a token glued to other text is found too.
 */
const JWT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

export const findJwts: Finder = (text) =>
  [...text.matchAll(JWT)].map((m) => ({ start: m.index, length: m[0].length, what: 'JWT-shaped string' }));

/** `Bearer` and an RFC 6750 token68 (a redacted `Bearer [REDACTED]` has none). */
const BEARER = /\bBearer\s+([A-Za-z0-9\-._~+/]+=*)/gi;

/**
 * Bearer credentials. Not a credential: a WWW-Authenticate challenge's
 * auth-params (`Bearer realm="x"`, `Bearer resource_metadata="..."`), or a word
 * of prose ("Bearer authentication"): a token has a digit, a symbol or mixed case.
 */
export const findBearerTokens: Finder = (text) => {
  const hits: Hit[] = [];
  for (const m of text.matchAll(BEARER)) {
    const token = m[1];
    const after = text[m.index + m[0].length];
    const authParam = /^[A-Za-z_-]+=?$/.test(token) && (token.endsWith('=') || after === '=');
    const plainWord = /^[a-z]+$/.test(token) || /^[A-Z][a-z]+$/.test(token);
    if (token.length < MIN_SECRET_LENGTH || authParam || plainWord) continue;
    hits.push({
      start: m.index + m[0].length - token.length,
      length: token.length,
      what: 'Bearer credential',
    });
  }
  return hits;
};

/** Runs of token characters long enough to be (part of) a secret. */
const TOKENISH = /[A-Za-z0-9+/_=.~%-]{8,}/g;
const shorten = (s: string) => s.replace(TOKENISH, (run) => `${run.slice(0, 4)}…`);

/**
 * Up to 40 characters either side of a hit. The hit shows its first 4
 * characters and its length; every other long token-like run in the context
 * is cut to 4 characters, so no secret is ever printed whole.
 */
export function excerpt(line: string, hit: Hit): string {
  const from = Math.max(0, hit.start - 40);
  const to = Math.min(line.length, hit.start + hit.length + 40);
  const matched = line.slice(hit.start, hit.start + hit.length);
  return [
    from > 0 ? '…' : '',
    shorten(line.slice(from, hit.start)),
    `<<${matched.slice(0, 4)}…(${hit.length} chars)>>`,
    shorten(line.slice(hit.start + hit.length, to)),
    to < line.length ? '…' : '',
  ].join('');
}

/** Every hit of `finder` in every line of every haystack. */
export function sweep(haystacks: Haystack[], finder: Finder): Finding[] {
  const findings: Finding[] = [];
  for (const { file, lines } of haystacks) {
    lines.forEach((text, index) => {
      for (const hit of finder(text))
        findings.push({ ...hit, file, line: index + 1, excerpt: excerpt(text, hit) });
    });
  }
  return findings;
}

/** A failure message naming each file and line, with redacted excerpts (the first 25). */
export function describeFindings(findings: Finding[]): string {
  const shown = findings
    .slice(0, 25)
    .map((f) => `  ${f.file}:${f.line} ${f.what}: ${f.excerpt}`)
    .join('\n');
  const more = findings.length > 25 ? `\n  ... and ${findings.length - 25} more` : '';
  return `${findings.length} leak(s) in the captured logs and audit rows:\n${shown}${more}`;
}
