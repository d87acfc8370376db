/**
 * S3 lists keys in the byte order of their UTF-8 encoding; SQLite's BINARY collation compares
 * text the same way. JavaScript compares strings by UTF-16 code units, which agrees except where
 * a character above U+FFFF (a surrogate pair, 0xD800-0xDFFF) meets one in U+E000-U+FFFF: UTF-16
 * puts the pair first, UTF-8 puts it last. Code point order is UTF-8's.
 * @module
 */

/** Negative, zero or positive as `a` sorts before, with or after `b` in UTF-8 byte order. */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

/** Moves surrogates above U+E000-U+FFFF, as their code points are. */
function rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit <= 0xdfff ? unit + 0x2000 : unit - 0x800;
}
