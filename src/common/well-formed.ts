/** A UTF-16 surrogate not in a pair: text no database stores as given (PostgreSQL refuses it in JSON). */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');
const ANY_SURROGATE = /[\ud800-\udfff]/;

/**
 * `text` with each lone surrogate replaced by U+FFFD (what SQLite would
 * store instead, and what PostgreSQL refuses the whole statement for), so
 * the value written is the value hashed and nothing a caller sends can fail
 * the batch it joins. Text without surrogates (nearly all) is returned as is.
 */
export function wellFormed(text: string): string {
  return ANY_SURROGATE.test(text) ? text.replace(LONE_SURROGATES, '\ufffd') : text;
}

/** The first `max` UTF-16 units of `text`, never ending inside a surrogate pair, well formed. */
export function cutText(text: string, max: number): string {
  let cut = text.length > max ? text.slice(0, max) : text;
  if (cut.length < text.length && /[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return wellFormed(cut);
}

const NUL = /\u0000/g;

/**
 * `text` as a database column can hold it: well formed (`wellFormed`), and each U+0000 replaced by
 * U+FFFD, a character PostgreSQL refuses in text (22021), failing the whole statement.
 */
export function storableText(text: string): string {
  const formed = wellFormed(text);
  return formed.includes('\u0000') ? formed.replace(NUL, '\ufffd') : formed;
}
